"""The Dockerfile parser: lines, directives, forms, flags, every instruction and docker's errors.

Error texts were taken from engine 20.10's classic builder (`DOCKER_BUILDKIT=0 docker build`);
the corpus (test_corpus.py) re-checks a selection against the engine on every run.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from imgtui.backends.base import BuildError
from imgtui.build.errors import DockerfileError
from imgtui.build.parser import Health, parse, parse_duration, parse_line, parse_mount
from imgtui.build.plan import platform_args, resolve

B = "FROM imgtui-test/busybox:latest"


def one(text: str):
    """The single instruction after a FROM line."""
    (stage,) = parse(f"{B}\n{text}\n").stages
    (instr,) = stage.instructions
    return instr


# ------------------------------------------------------------------------------- lines


def test_continuations_comments_and_empty_lines():
    df = parse(
        f"{B}\n"
        "# comment\n"
        "RUN echo a \\\n"
        "  # inside: dropped\n"
        "\n"
        "   \t\n"
        "  b \\  \t\n"
        "  c\n"
        "   ENV X=1\n"
    )
    run, env = df.stages[0].instructions
    assert run.args == ("echo a   b   c",)
    assert (run.line, run.end_line) == (3, 8)
    assert run.original == "RUN echo a   b   c"
    assert run.source.splitlines()[0] == "RUN echo a \\"
    assert (env.line, env.pairs) == (9, (("X", "1"),))


def test_continuation_at_end_of_file_and_crlf_and_bom():
    df = parse(f"\ufeff{B}\r\nRUN echo \\\r\n  done\r\nCMD x \\")
    run, cmd = df.stages[0].instructions
    assert run.args == ("echo   done",)
    assert cmd.args == ("x",)  # docker trims the joined line


def test_escape_directive():
    df = parse(f"# escape=`\n{B}\nRUN echo a `\n  b\nWORKDIR C:\\dir\n")
    assert df.escape == "`"
    run, workdir = df.stages[0].instructions
    assert run.args == ("echo a   b",)
    assert workdir.args == ("C:\\dir",)


@pytest.mark.parametrize(
    "top",
    [
        "\n# escape=`\n",  # after a blank line
        "# comment\n# escape=`\n",  # after a comment
        "# unknown=1\n# escape=`\n",  # after an unknown directive
        f"{B}\n# escape=`\n",  # after an instruction
    ],
)
def test_escape_directive_only_at_the_top(top: str):
    text = top if top.startswith(B) else top + f"{B}\n"
    assert parse(text + "RUN echo\n").escape == "\\"


def test_directive_forms():
    df = parse(f"#  Syntax = docker/dockerfile:1 \n#check=skip=all\n# ESCAPE=\\\n{B}\n")
    assert df.directives.syntax == "docker/dockerfile:1"
    assert df.directives.check == "skip=all"
    assert df.escape == "\\"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("# escape=x\n", "Dockerfile: invalid escape token 'x' does not match ` or \\"),
        ("# escape=``\n", "Dockerfile: invalid escape token '``' does not match ` or \\"),
        ("# escape=`\n# escape=\\\n", "Dockerfile: only one escape parser directive can be used"),
    ],
)
def test_bad_directives(text: str, message: str):
    with pytest.raises(DockerfileError) as info:
        parse(text + B)
    assert str(info.value) == message


def test_heredoc_is_plain_shell_text():
    """Heredocs are not supported: the classic builder hands `<<EOF` to the shell, so do we."""
    df = parse(f"{B}\nRUN cat <<EOF\nFROM scratch\n")
    assert df.stages[0].instructions[0].args == ("cat <<EOF",)
    assert len(df.stages) == 2


# ------------------------------------------------------------------------------- forms


@pytest.mark.parametrize(
    ("text", "args", "json_form"),
    [
        ('RUN ["echo", "a b"]', ("echo", "a b"), True),
        ('RUN  [ "echo" ]  trailing', ("echo",), True),  # Go's decoder stops after the array
        ("RUN [not json]", ("[not json]",), False),
        ('CMD [ "open"', ('[ "open"',), False),
        ("CMD []", (), True),
        ('ENTRYPOINT ["a\\\\b", "\\u00e9"]', ("a\\b", "é"), True),
        ("CMD echo   spaced  ", ("echo   spaced",), False),
        ('SHELL ["/bin/sh", "-ec"]', ("/bin/sh", "-ec"), True),
        ('COPY ["a b", "/c d/"]', ("a b", "/c d/"), True),
        ("COPY a  b   /c/", ("a", "b", "/c/"), False),
        ('VOLUME ["/a", "/b"]', ("/a", "/b"), True),
        ("VOLUME /a /b", ("/a", "/b"), False),
        ("EXPOSE 80 443/udp", ("80", "443/udp"), False),
        ("USER a b", ("a b",), False),
        ("WORKDIR /a b", ("/a b",), False),
        ("STOPSIGNAL SIGKILL", ("SIGKILL",), False),
        ("MAINTAINER Me <me@x>", ("Me <me@x>",), False),
    ],
)
def test_argument_forms(text: str, args: tuple, json_form: bool):
    instr = one(text)
    assert instr.args == args
    assert instr.json_form is json_form


@pytest.mark.parametrize(
    ("text", "pairs"),
    [
        ("ENV A 1", (("A", "1"),)),
        ("ENV A  several   words", (("A", "several   words"),)),
        ("ENV A=1 B=\"x y\" C='$z'", (("A", "1"), ("B", '"x y"'), ("C", "'$z'"))),
        ('ENV A=a\\ b "K K"=v', (("A", "a\\ b"), ('"K K"', "v"))),
        ("ENV EMPTY=", (("EMPTY", ""),)),
        ('LABEL "a b"=c d=', (('"a b"', "c"), ("d", ""))),
        ("LABEL legacy form value", (("legacy", "form value"),)),
        ('ARG A=1 B="x y" C', (("A", "1"), ("B", '"x y"'), ("C", None))),
        ("ARG ONLY", (("ONLY", None),)),
    ],
)
def test_pairs(text: str, pairs: tuple):
    assert one(text).pairs == pairs


def test_onbuild_keeps_its_trigger():
    instr = one("onbuild  copy --from=x a b")
    assert instr.trigger is not None
    assert instr.trigger.kind == "COPY"
    assert instr.trigger.flag("from") == "x"
    assert instr.trigger_text == "copy --from=x a b"
    # docker checks an unknown trigger only when a child image runs it
    assert one("ONBUILD FOO bar").trigger is None


def test_instruction_names_are_case_insensitive():
    assert one("rUn true").kind == "RUN"


# ------------------------------------------------------------------------------- flags


def test_flags():
    copy = one("COPY --from=build --chown=1:2 --chmod=755 --link --parents=false a b")
    assert copy.flags == (
        ("from", "build"),
        ("chown", "1:2"),
        ("chmod", "755"),
        ("link", "true"),
        ("parents", "false"),
    )
    assert copy.flag("chown") == "1:2"
    assert copy.flag("exclude") is None
    add = one("ADD --checksum=sha256:abc --keep-git-dir=TRUE --chown='a b' src dst")
    assert add.flag("checksum") == "sha256:abc"
    assert add.flag("keep-git-dir") == "true"
    assert add.flag("chown") == "a b"
    assert one("COPY -- --notaflag dst").args == ("--notaflag", "dst")


def test_run_flags():
    run = one(
        "RUN --mount=type=cache,target=/root/.cache,sharing=locked --mount=type=secret,id=s "
        "--network=none --security=insecure make"
    )
    assert run.flag("network") == "none"
    cache, secret = run.mounts
    assert (cache.type, cache.target, cache.option("sharing")) == (
        "cache",
        "/root/.cache",
        "locked",
    )
    assert (secret.type, secret.target, secret.option("id")) == ("secret", None, "s")
    assert run.args == ("make",)


def test_parse_mount():
    m = parse_mount('type=bind,source=/src,"target=/a,b",ro')
    assert (m.type, m.target, m.option("ro")) == ("bind", "/a,b", "true")
    assert parse_mount("target=/x").type == "bind"
    with pytest.raises(ValueError, match="unsupported mount type"):
        parse_mount("type=nfs,target=/x")
    with pytest.raises(ValueError, match="mount destination not specified"):
        parse_mount("type=cache")


# ------------------------------------------------------------------------------- healthcheck


def test_healthcheck():
    h = one(
        "HEALTHCHECK --interval=1m30s --timeout=500ms --start-period=2s "
        "--start-interval=1s --retries=3 CMD curl -f x || exit 1"
    ).health
    assert h == Health(
        ("CMD-SHELL", "curl -f x || exit 1"),
        interval=90_000_000_000,
        timeout=500_000_000,
        start_period=2_000_000_000,
        start_interval=1_000_000_000,
        retries=3,
    )
    assert one('HEALTHCHECK CMD ["true", "x"]').health.test == ("CMD", "true", "x")
    assert one("HEALTHCHECK --interval=bogus NONE").health == Health(("NONE",))


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("0", 0),
        ("1s", 10**9),
        ("1.5s", 1_500_000_000),
        ("1h2m3s", 3_723_000_000_000),
        ("300ms", 300_000_000),
        ("2us", 2_000),
        ("2µs", 2_000),
        ("7ns", 7),
        ("-1.5m", -90_000_000_000),
        (".5s", 500_000_000),
    ],
)
def test_go_durations(text: str, ns: int):
    assert parse_duration(text) == ns


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1", 'time: missing unit in duration "1"'),
        ("", 'time: invalid duration ""'),
        ("s", 'time: invalid duration "s"'),
        ("1x", 'time: unknown unit "x" in duration "1x"'),
        ("1s2", 'time: missing unit in duration "1s2"'),
    ],
)
def test_go_duration_errors(text: str, message: str):
    with pytest.raises(ValueError) as info:
        parse_duration(text)
    assert str(info.value) == message


@given(st.integers(0, 10**6), st.sampled_from(["ns", "us", "ms", "s", "m", "h"]))
def test_durations_scale(n: int, unit: str):
    scale = {"ns": 1, "us": 10**3, "ms": 10**6, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}
    assert parse_duration(f"{n}{unit}") == n * scale[unit]


# ------------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (f"{B}\nFOO bar", "Dockerfile:2: unknown instruction: FOO"),
        ("", "Dockerfile: file with no instructions"),
        ("# only a comment\n\n", "Dockerfile: file with no instructions"),
        ("ARG X", "Dockerfile: dockerfile contains no stages to build"),
        ("RUN true", "Dockerfile:1: no build stage in current context"),
        ("FROM", "Dockerfile:1: FROM requires either one or three arguments"),
        ("FROM a b", "Dockerfile:1: FROM requires either one or three arguments"),
        ("FROM a AS b c", "Dockerfile:1: FROM requires either one or three arguments"),
        (
            "FROM a AS b_!",
            'Dockerfile:1: invalid name for build stage: "b_!", '
            "name can't start with a number or contain symbols",
        ),
        (f"{B} AS x\nFROM a AS X", 'Dockerfile:2: duplicate stage name "x"'),
        (f"{B}\nENV", "Dockerfile:2: ENV requires at least one argument"),
        (f"{B}\nENV A", "Dockerfile:2: ENV must have two arguments"),
        (f"{B}\nENV =1", "Dockerfile:2: ENV names can not be blank"),
        (
            f"{B}\nLABEL a=1 b",
            'Dockerfile:2: Syntax error - can\'t find = in "b". Must be of the form: name=value',
        ),
        (f"{B}\nARG", "Dockerfile:2: ARG requires at least one argument"),
        (f"{B}\nUSER", "Dockerfile:2: USER requires exactly one argument"),
        (f"{B}\nWORKDIR", "Dockerfile:2: WORKDIR requires exactly one argument"),
        (f"{B}\nEXPOSE", "Dockerfile:2: EXPOSE requires at least one argument"),
        (f"{B}\nVOLUME", "Dockerfile:2: VOLUME requires at least one argument"),
        (f'{B}\nVOLUME ["/a", ""]', "Dockerfile:2: VOLUME specified can not be an empty string"),
        (
            f'{B}\nVOLUME ["/a", 1]',
            "Dockerfile:2: when using JSON array syntax, arrays must be comprised of strings only",
        ),
        (f"{B}\nSHELL", "Dockerfile:2: SHELL requires at least one argument"),
        (
            f"{B}\nADD x",
            "Dockerfile:2: ADD requires at least two arguments, but only one was "
            "provided. Destination could not be determined",
        ),
        (f"{B}\nCOPY --chown a b", "Dockerfile:2: Missing a value on flag: chown"),
        (
            f"{B}\nCOPY --link=maybe a b",
            "Dockerfile:2: Expecting boolean value for flag link, not: maybe",
        ),
        (f"{B}\nCOPY --link= a b", "Dockerfile:2: Missing a value on flag: link"),
        (f"{B}\nCOPY --from=a --from=b a b", "Dockerfile:2: Duplicate flag specified: from"),
        (f"{B}\nRUN --foo true", "Dockerfile:2: Unknown flag: foo"),
        (f"{B}\nENV --x=1 a=b", "Dockerfile:2: Unknown flag: x"),
        (f"{B}\nRUN --network=bridge2 x", 'Dockerfile:2: unsupported network mode "bridge2"'),
        (f"{B}\nRUN --mount=type=nfs,target=/x x", 'Dockerfile:2: unsupported mount type "nfs"'),
        (f"{B}\nONBUILD", "Dockerfile:2: ONBUILD requires at least one argument"),
        (
            f"{B}\nONBUILD MAINTAINER x",
            "Dockerfile:2: MAINTAINER isn't allowed as an ONBUILD trigger",
        ),
        (f"{B}\nONBUILD ENV x", "Dockerfile:2: ENV must have two arguments"),
        (f"{B}\nHEALTHCHECK", "Dockerfile:2: HEALTHCHECK requires at least one argument"),
        (f"{B}\nHEALTHCHECK NONE x", "Dockerfile:2: HEALTHCHECK NONE takes no arguments"),
        (f"{B}\nHEALTHCHECK FOO", 'Dockerfile:2: Unknown type "FOO" in HEALTHCHECK (try CMD)'),
        (f"{B}\nHEALTHCHECK CMD", "Dockerfile:2: Missing command after HEALTHCHECK CMD"),
        (
            f"{B}\nHEALTHCHECK --retries=x CMD t",
            'Dockerfile:2: strconv.ParseInt: parsing "x": invalid syntax',
        ),
        (
            f"{B}\nHEALTHCHECK --timeout=0s CMD t",
            'Dockerfile:2: Interval "timeout" cannot be less than 1ms',
        ),
        (
            f"{B}\nHEALTHCHECK --interval=1us CMD t",
            'Dockerfile:2: Interval "interval" cannot be less than 1ms',
        ),
        (
            f"{B}\nHEALTHCHECK --start-period=-1s CMD t",
            'Dockerfile:2: Interval "start-period" cannot be less than 1ms',
        ),
        (f"{B}\nCOPY --from=1 a b", "Dockerfile:2: invalid from flag value 1: index out of bounds"),
        (
            f"{B}\nRUN true\n\nFOO\nENV A",
            "Dockerfile:5: ENV must have two arguments",
        ),  # line pass first
    ],
)
def test_errors(text: str, message: str):
    with pytest.raises(DockerfileError) as info:
        parse(text)
    assert str(info.value) == message
    assert isinstance(info.value, BuildError)


def test_error_carries_line_and_reason():
    with pytest.raises(DockerfileError) as info:
        parse(f"{B}\n\nFOO x", filename="build/Containerfile")
    assert (info.value.line, info.value.reason) == (3, "unknown instruction: FOO")
    assert str(info.value) == "build/Containerfile:3: unknown instruction: FOO"


def test_parse_line_for_triggers():
    assert parse_line("ENV A=1").pairs == (("A", "1"),)
    with pytest.raises(DockerfileError, match="unknown instruction: NOPE"):
        parse_line("NOPE x")


# ------------------------------------------------------------------------------- stages & plan


def test_stages_and_meta_args():
    df = parse(
        "ARG BASE=imgtui-test/busybox\nARG TAG\n"
        "FROM --platform=$BUILDPLATFORM ${BASE}:${TAG:-latest} AS Build\nRUN true\n"
        "FROM scratch\nCOPY --from=BUILD /x /x\n"
        "FROM build AS final\n"
    )
    assert [s.name for s in df.stages] == ["build", None, "final"]
    assert [m.pairs for m in df.meta_args] == [(("BASE", "imgtui-test/busybox"),), (("TAG", None),)]
    assert df.stages[0].platform == "$BUILDPLATFORM"
    plan = resolve(df, build_args={"TAG": "1.0"}, builtin_args=platform_args("linux/arm64/v8"))
    assert [rs.base for rs in plan.stages] == ["imgtui-test/busybox:1.0", "scratch", "build"]
    assert plan.stages[0].platform == platform_args()["BUILDPLATFORM"]
    assert plan.stages[1].scratch
    assert plan.stages[2].base_stage == 0
    assert plan.copy_source("BUILD", 1) == 0
    assert plan.copy_source("build", 0) == "build"  # not an earlier stage: an image
    assert plan.copy_source("alpine:3", 1) == "alpine:3"
    assert plan.needed() == (0, 2)  # BuildKit would skip stage 1
    assert resolve(df, target="BUILD").target.index == 0
    assert resolve(df).meta == {"BASE": "imgtui-test/busybox", "TAG": None}


def test_platform_args():
    args = platform_args("linux/arm64/v8", build="linux/amd64")
    assert (args["TARGETOS"], args["TARGETARCH"], args["TARGETVARIANT"]) == ("linux", "arm64", "v8")
    assert (args["BUILDPLATFORM"], args["BUILDVARIANT"]) == ("linux/amd64", "")


@pytest.mark.parametrize(
    ("text", "kwargs", "message"),
    [
        (
            f"{B}\n",
            {"target": "nope"},
            "Dockerfile: failed to reach build target nope in Dockerfile",
        ),
        ("ARG E\nFROM ${E}\n", {}, "Dockerfile:2: base name (${E}) should not be blank"),
        (
            "ARG E=${\nFROM x\n",
            {},
            "Dockerfile:1: failed to process \"${\": syntax error: missing '}'",
        ),
    ],
)
def test_plan_errors(text: str, kwargs: dict, message: str):
    with pytest.raises(DockerfileError) as info:
        resolve(parse(text), **kwargs)
    assert str(info.value) == message


def test_arg_scope():
    df = parse("ARG M=meta\nARG N\nFROM x\nARG M\nARG N\nARG D=def\nARG U\n")
    plan = resolve(df, build_args={"D": "cli", "http_proxy": "p", "STRAY": "s"})
    scope = plan.arg_scope()
    assert scope.allowed() == {"http_proxy": "p"}
    for name, default in [("M", None), ("N", None), ("D", "def"), ("U", None)]:
        scope.declare(name, default)
    assert scope.allowed() == {"http_proxy": "p", "M": "meta", "D": "cli"}
    assert scope.unused() == {"STRAY"}
