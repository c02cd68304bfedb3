"""The metadata evaluator on its own; test_corpus.py compares it with the engine case by case."""

from __future__ import annotations

import pytest

from imgtui.build.config_eval import (
    DEFAULT_PATH,
    METADATA,
    StageConfig,
    StageEvaluator,
    evaluate,
    parse_ports,
    valid_signal,
)
from imgtui.build.errors import DockerfileError
from imgtui.build.parser import EXPANDED, Health, parse
from imgtui.build.plan import resolve

BASE = {"Env": ["PATH=/bin"], "Cmd": ["sh"]}


def final(text: str, base: dict | None = None, **kwargs) -> StageConfig:
    configs = evaluate(parse(text), lambda ref: base or BASE, **kwargs)
    return configs[max(configs)]


def test_scratch_gets_default_path_and_nothing_else():
    assert final("FROM scratch\n").to_docker() == {"Env": [f"PATH={DEFAULT_PATH}"]}
    assert final("FROM img\n").env == ("PATH=/bin",)


def test_env_order_and_replacement():
    c = final("FROM img\nENV A=1 B=2\nENV PATH=/x:$PATH A=3 C=$A\n")
    assert c.env == ("PATH=/x:/bin", "A=3", "B=2", "C=1")


def test_cmd_and_entrypoint_rules():
    assert final("FROM img\nENTRYPOINT []\n").to_docker().get("Entrypoint") is None
    assert final("FROM img\nCMD []\n").cmd == ()
    c = final('FROM img\nSHELL ["/bin/bash", "-c"]\nENTRYPOINT run it\n')
    assert (c.entrypoint, c.cmd) == (("/bin/bash", "-c", "run it"), None)
    c = final('FROM img\nCMD ["x"]\nENTRYPOINT ["e"]\n')
    assert (c.entrypoint, c.cmd) == (("e",), ("x",))


def test_workdir():
    assert final("FROM img\nWORKDIR a\nWORKDIR ./b/../c\n").working_dir == "/a/c"
    assert final("FROM img\nWORKDIR /x/../y/\n").working_dir == "/x/../y/"
    assert final("FROM img\nENV D=/d\nWORKDIR $D\nWORKDIR e\n").working_dir == "/d/e"


def test_buildkit_semantics():
    text = "FROM img\nARG V=arg\nENV V=env W=$V\nARG V=again\nENV X=$V P=${http_proxy:-none}\n"
    args = {"http_proxy": "p"}
    assert final(text, build_args=args).env_dict() == {
        "PATH": "/bin", "V": "env", "W": "arg", "X": "env", "P": "p",
    }  # fmt: skip
    assert final(text, build_args=args, buildkit=True).env_dict() == {
        "PATH": "/bin", "V": "env", "W": "arg", "X": "again", "P": "none",
    }  # fmt: skip
    assert final("FROM scratch\n", buildkit=True).working_dir == "/"


def test_healthcheck_merge_is_classic_only():
    text = "FROM img\nHEALTHCHECK --interval=5s --retries=2 CMD a\nHEALTHCHECK CMD b\n"
    classic = final(text)
    assert classic.healthcheck == Health(("CMD-SHELL", "b"), interval=5 * 10**9, retries=2)
    plan = resolve(parse(text))
    ev = StageEvaluator(StageConfig.from_docker(BASE), plan.arg_scope(), buildkit=True)
    for instr in plan.target.stage.instructions:
        ev.apply(instr)
    assert ev.config.healthcheck == Health(("CMD-SHELL", "b"))


def test_expansion_env_prefers_env_over_args():
    plan = resolve(parse("FROM img\nARG V=arg\nARG W=w\nENV V=env\n"), build_args={"W": "cli"})
    ev = StageEvaluator(StageConfig.from_docker(BASE), plan.arg_scope())
    for instr in plan.target.stage.instructions:
        ev.apply(instr)
    assert ev.expansion_env() == ["PATH=/bin", "V=env", "W=cli"]
    assert ev.run_env() == ev.expansion_env()


def test_base_triggers_run_first_and_are_not_inherited():
    base = {**BASE, "OnBuild": ["ENV T=1", "LABEL l=$T"]}
    c = final("FROM img\nONBUILD RUN x\n", base)
    assert c.env_dict()["T"] == "1"
    assert dict(c.labels) == {"l": "1"}
    assert c.on_build == ("RUN x",)
    with pytest.raises(DockerfileError, match="FROM isn't allowed as an ONBUILD trigger"):
        final("FROM img\n", {**BASE, "OnBuild": ["FROM x"]})


def test_maintainer_is_the_author_and_not_inherited():
    assert final("FROM img\nMAINTAINER me\n").author == "me"
    assert final("FROM img AS a\nMAINTAINER me\nFROM a\n").author == ""


def test_round_trip_through_docker_shape():
    c = final(
        'FROM img\nLABEL a=1\nEXPOSE 80\nVOLUME /v\nUSER u\nSTOPSIGNAL 9\nSHELL ["/bin/sh"]\n'
        "HEALTHCHECK --timeout=1s CMD t\nONBUILD RUN x\nENTRYPOINT e\n"
    )
    assert StageConfig.from_docker(c.to_docker()) == c


@pytest.mark.parametrize(
    ("specs", "ports"),
    [
        (["80"], {"80/tcp"}),
        (["80/UDP"], {"80/udp"}),
        (["8000-8002/sctp"], {"8000/sctp", "8001/sctp", "8002/sctp"}),
        (["1:2"], {"2/tcp"}),
        (["127.0.0.1:5000-5001:6000-6001/udp"], {"6000/udp", "6001/udp"}),
        (["0"], {"0/tcp"}),
    ],
)
def test_ports(specs: list[str], ports: set[str]):
    assert parse_ports(specs) == ports


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("70000", "Invalid containerPort: 70000"),
        ("5-3", "Invalid containerPort: 5-3"),
        ("x", "Invalid containerPort: x"),
        ("80/foo", "Invalid proto: foo"),
        ("/tcp", "No port specified: /tcp<empty>"),
        ("x:80", "Invalid hostPort: x"),
    ],
)
def test_port_errors(spec: str, message: str):
    with pytest.raises(ValueError) as info:
        parse_ports([spec])
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("signal", "ok"),
    [("SIGTERM", True), ("term", True), ("9", True), ("RTMIN+3", True), ("SIGRTMAX-1", True),
     ("0", False), ("FOO", False), ("RTMIN+16", False), ("", False)],
)  # fmt: skip
def test_signals(signal: str, ok: bool):
    assert valid_signal(signal) is ok


def test_substitution_error_names_the_line():
    with pytest.raises(DockerfileError) as info:
        final("FROM img\n\nLABEL a=${b\n")
    assert str(info.value) == "Dockerfile:3: failed to process \"${b\": syntax error: missing '}'"


@pytest.mark.parametrize("kind", sorted(METADATA))
def test_exactly_the_documented_instructions_expand(kind: str):
    """`$X` reaches the config expanded for EXPANDED kinds and verbatim for the others."""
    line = {
        "ARG": "ARG A=$X\nENV SEEN=$A",
        "CMD": "CMD echo $X",
        "ENTRYPOINT": "ENTRYPOINT echo $X",
        "ENV": "ENV SEEN=$X",
        "EXPOSE": "EXPOSE $X",
        "HEALTHCHECK": "HEALTHCHECK CMD echo $X",
        "LABEL": "LABEL seen=$X",
        "MAINTAINER": "MAINTAINER $X",
        "ONBUILD": "ONBUILD RUN echo $X",
        "SHELL": 'SHELL ["/bin/sh", "$X"]',
        "STOPSIGNAL": "STOPSIGNAL $X",
        "USER": "USER $X",
        "VOLUME": "VOLUME /$X",
        "WORKDIR": "WORKDIR /$X",
    }[kind]
    c = final(f"FROM img\nENV X=9\n{line}\n")
    text = repr(c.to_docker()) + c.author
    assert ("$X" not in text) is (kind in EXPANDED)
    assert ("9" in text.replace("PATH=/bin", "").replace("'X=9'", "")) is (kind in EXPANDED)
