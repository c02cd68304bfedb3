"""The differential corpus: this parser and config evaluator against the engine's classic builder.

(a) every case parses, or fails with the expected one-line error; (b) every case builds on the
real engine (DOCKER_BUILDKIT=0) and every invalid one fails there with docker's words; (c) the
config predicted from the metadata instructions alone equals the engine's, field by field; plus
the layer facts a daemonless builder must reproduce (ownership, modes, links, whiteouts, tar
extraction, .dockerignore), read from the engine's own `docker save`.
"""

from __future__ import annotations

import pytest

from imgtui.build import dockerignore
from imgtui.build.config_eval import StageConfig, evaluate
from imgtui.build.errors import DockerfileError
from imgtui.build.parser import parse
from imgtui.build.plan import platform_args, resolve
from tests.build.conftest import CASES, case_ids
from tests.build.corpus import Case, materialize
from tests.build.engine_results import EngineBuild, EngineCorpus
from tests.conftest import BASE_REPO

VALID = [c for c in CASES if not c.invalid]
INVALID = [c for c in CASES if c.invalid]
BASE = f"{BASE_REPO}:latest"
# The config tests/conftest.py gives the base image (`changes=['CMD ["sh"]', "ENV PATH=/bin"]`).
BASE_CONFIG = {"Env": ["PATH=/bin"], "Cmd": ["sh"]}


def _static_lookup(ref: str) -> dict:
    assert ref == BASE, f"corpus cases may only use {BASE} or scratch, not {ref}"
    return BASE_CONFIG


def _predict(case: Case, dockerfile_text: str, lookup) -> tuple[dict, str, int]:
    """The target stage's config, author, and how many history entries the image gets."""
    plan = resolve(parse(dockerfile_text), case.target, case.build_args)
    configs = evaluate(plan, lookup)
    target = plan.target
    # Classic history: the base image's entries, then one per instruction (and per ONBUILD
    # trigger run) of every stage in the FROM chain.
    count, rs = 0, target
    while True:
        base_stage = rs.base_stage
        triggers = len(configs[base_stage].on_build) if base_stage is not None else 0
        count += len(rs.stage.instructions) + triggers
        if base_stage is None:
            break
        rs = plan.stages[base_stage]
    base_entries = 0 if rs.scratch else 1  # the busybox base has one history entry
    return configs[target.index].to_docker(), configs[target.index].author, count + base_entries


def test_corpus_size():
    """The brief asks for at least 30 buildable and 8 refused Dockerfiles."""
    assert len(VALID) >= 30
    assert len(INVALID) >= 8


@pytest.mark.parametrize("case", CASES, ids=case_ids(CASES))
def test_parser_accepts_or_refuses(case: Case, tmp_path):
    text = (materialize(case, tmp_path / "ctx") / "Dockerfile").read_text()
    if case.invalid:
        with pytest.raises(DockerfileError) as info:
            _predict(case, text, _static_lookup)
        assert str(info.value) == case.error
        assert "\n" not in str(info.value)
    else:
        config, _, history = _predict(case, text, _static_lookup)
        assert history >= 1
        assert config.get("Env"), "every image ends with at least PATH"


# ------------------------------------------------------------------------------- engine


@pytest.mark.engine
@pytest.mark.parametrize("case", CASES, ids=case_ids(CASES))
def test_engine_agrees_on_validity(case: Case, engine_corpus: EngineCorpus):
    built = engine_corpus.build(case)
    if case.invalid:
        assert not built.ok, f"the engine built {case.name}, which must fail"
        assert case.engine_error in built.output
    else:
        assert built.ok, built.output[-2000:]


@pytest.mark.engine
@pytest.mark.parametrize("case", VALID, ids=case_ids(VALID))
def test_config_prediction_matches_engine(case: Case, engine_corpus: EngineCorpus, base_config):
    built = engine_corpus.build(case)
    assert built.ok, built.output[-2000:]
    text = (engine_corpus.context(case) / "Dockerfile").read_text()
    predicted, author, history = _predict(case, text, base_config)
    assert predicted == StageConfig.from_docker(built.config).to_docker()
    assert author == built.author
    assert history == len(built.history)


@pytest.mark.engine
@pytest.mark.parametrize("case", CASES, ids=case_ids(CASES))
def test_buildkit_agrees(case: Case, engine_corpus: EngineCorpus, base_config):
    """The engine's BuildKit frontend: the same refusals (mostly in the same words) and, with
    `evaluate(buildkit=True)` and the platform ARGs, the same configs; case.toml pins where
    BuildKit differs."""
    built = engine_corpus.build(case, buildkit=True)
    refusal = case.buildkit_error
    if refusal is None and case.invalid and not case.buildkit_builds:
        refusal = case.engine_error
    if refusal is not None:
        assert not built.ok, f"BuildKit built {case.name}, which it must refuse"
        assert refusal in built.output
        return
    assert built.ok, built.output[-2000:]
    if case.invalid:
        return  # refused by the classic builder only (pinned by buildkit_builds)
    text = (engine_corpus.context(case) / "Dockerfile").read_text()
    plan = resolve(parse(text), case.target, case.build_args, platform_args())
    config = evaluate(plan, base_config, buildkit=True)[plan.target.index]
    assert config.to_docker() == StageConfig.from_docker(built.config).to_docker()
    assert config.author == built.author


# ------------------------------------------------------------------------------- layers


def _built(engine_corpus: EngineCorpus, name: str) -> EngineBuild:
    case = next(c for c in CASES if c.name == name)
    built = engine_corpus.build(case)
    assert built.ok, built.output[-2000:]
    return built


@pytest.mark.engine
def test_dockerignore_walk_matches_what_copy_saw(engine_corpus: EngineCorpus):
    """`COPY . /ctx/` on the engine copies exactly the files our walker includes."""
    case = next(c for c in CASES if c.name == "11-dockerignore")
    built = _built(engine_corpus, case.name)
    ctx = engine_corpus.context(case)
    ours = list(dockerignore.walk(ctx, dockerignore.load(ctx)))
    engine = {p.removeprefix("ctx/"): e for p, e in built.files().items() if p.startswith("ctx/")}
    assert {e.path for e in ours if not e.is_dir} == {
        p for p, e in engine.items() if e.type != "dir"
    }
    assert {e.path for e in ours if e.is_dir} <= set(engine)
    assert "Dockerfile" not in engine  # excluded ones are sent to be read, not to be copied
    sent = {e.path for e in dockerignore.walk(ctx, dockerignore.load(ctx, sent=True))}
    assert {"Dockerfile", ".dockerignore"} <= sent


@pytest.mark.engine
def test_layer_facts(engine_corpus: EngineCorpus):
    """What the classic builder writes, which the daemonless builder must write too."""
    chown = _built(engine_corpus, "10-chown")
    owners = {
        p: (e.uid, e.gid) for layer in chown.layers[1:] for p, e in ((x.path, x) for x in layer)
    }
    assert owners["numeric.txt"] == (1, 2)
    assert owners["named.txt"] == (65534, 0)
    assert owners["expanded.txt"] == (1234, 5678)
    assert owners["added-dir"] == owners["added-dir/sub/y.txt"] == (42, 43)
    assert owners["plain-dir/x.txt"] == (0, 0)

    tar = _built(engine_corpus, "12-add-tar")
    assert {"plain/top.txt", "plain/sub/inner.txt"} <= set(tar.files(1))
    assert {"gz/top.txt", "gz/sub/inner.txt"} <= set(tar.files(2))
    assert {"nested/dir/top.txt"} <= set(tar.files(3))
    assert tar.files(4)["copied/plain.tar"].type == "file"  # COPY never extracts

    links = _built(engine_corpus, "24-symlinks").files(1)
    assert (links["tree/rel"].type, links["tree/rel"].link) == ("symlink", "file.txt")
    assert links["tree/dangling"].link == "nowhere"
    assert links["tree/abs"].link == "/etc/passwd"
    assert _built(engine_corpus, "24-symlinks").files(2)["single-link"].type == "file"

    empty = _built(engine_corpus, "25-empty-dirs").files(1)
    assert empty["tree/nested/empty/deeper"].type == "dir"

    hard = _built(engine_corpus, "26-hardlinks").files(1)
    kinds = sorted(hard[p].type for p in ("tree/original", "tree/hardlink", "tree/sub/second"))
    assert kinds == ["file", "hardlink", "hardlink"]

    modes = _built(engine_corpus, "27-file-modes")
    assert modes.files(1)["tree/private"].mode & 0o7777 == 0o600
    assert modes.files(1)["tree/readonly"].mode & 0o7777 == 0o444
    assert modes.files(1)["tree/script.sh"].mode & 0o7777 == 0o755
    assert modes.files(2)["tree/script.sh"].mode & 0o7777 == 0o4755
    assert modes.files(2)["tree/sticky"].mode & 0o7777 == 0o1777

    wh = _built(engine_corpus, "28-whiteouts")
    assert {"etc/.wh.passwd", "work/.wh.file", "work/.wh.gone"} <= set(wh.files(2))
    assert "work/kept/.wh..wh..opq" in wh.files(3)


@pytest.mark.engine
def test_content_digests_follow_content(engine_corpus: EngineCorpus):
    """The layer entries carry content digests: equal content, equal digest."""
    built = _built(engine_corpus, "13-add-file")
    files = {p: e for layer in built.layers[1:] for p, e in ((x.path, x) for x in layer)}
    assert files["opt/hello.txt"].sha256 == files["renamed.txt"].sha256
    assert files["opt/hello.txt"].sha256 != files["multi/one.txt"].sha256
