"""The reference table against the real engine and the real `docker` CLI.

Every case is tried with each `docker` CLI binary here (`docker tag` parses before it asks the
engine, so its message tells whose parser refused) and with the engine's parser through the API.
The table's `legacy` column holds where the older grammar (docker/distribution v2, vendored up to
Docker 24; checked on Engine 20.10 and Debian's 20.10 CLI) answers differently from the current
one (distribution/reference, Docker 25+; checked on CLI 28).
"""

from __future__ import annotations

import fcntl
import functools
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker.errors
import pytest

from imgtui.reference import (
    familiar_match,
    is_image_id,
    normalize,
    parse_docker_ref,
    quote,
    split_repo_tag,
)
from tests.conftest import busybox_rootfs_tar
from tests.reference_cases import CASES, DIGEST_TAG, MATCHES, Case

pytestmark = pytest.mark.engine

# One per process: under xdist every worker has an image of its own.
REPO = f"imgtui-test/reference-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
def image(docker_client) -> Iterator[str]:
    """An image of our own for the table's tags, so no other test sees them on base_image."""
    api = docker_client.api
    # base_image's rootfs (so no new layer) under another config (so another id).
    api.import_image_from_data(
        busybox_rootfs_tar(),
        repository=REPO,
        tag="latest",
        changes=['CMD ["sh"]', f"LABEL imgtui.test={REPO}"],
    )
    image_id = str(api.inspect_image(f"{REPO}:latest")["Id"])
    yield image_id
    for tag in api.inspect_image(image_id)["RepoTags"]:
        api.remove_image(normalize(tag))  # the last tag takes the image with it


@pytest.fixture
def names_lock(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Held while a test tags: the table's names ("busybox:latest") are shared engine-wide."""
    # getbasetemp().parent is the same for every xdist worker of this session.
    lock = Path(tmp_path_factory.getbasetemp().parent) / "imgtui-reference-names.lock"
    with lock.open("a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _clients() -> list[str]:
    """Every docker CLI binary here: Debian's (20.10) parses with the older grammar."""
    found = {shutil.which("docker"), "/usr/bin/docker", "/usr/local/bin/docker"} - {None}
    real = {os.path.realpath(p) for p in found if p and os.access(p, os.X_OK)}
    return sorted(real) or ["docker"]  # none at all: the cli_env fixture fails the tests


@pytest.fixture(scope="module")
def cli_env(docker_host: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of a `docker` CLI aimed at the test engine, with an empty config."""
    if not any(shutil.which(c) for c in _clients()):
        pytest.fail("the docker CLI is missing (apt-get install docker.io)", pytrace=False)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    return env | {
        "DOCKER_HOST": docker_host,
        "DOCKER_CONFIG": str(tmp_path_factory.mktemp("docker-config")),
        "DOCKER_CLI_HINTS": "false",
    }


def is_legacy(version: str) -> bool:
    """Docker up to 24 vendors the older grammar of docker/distribution v2."""
    major = version.split(".")[0]
    assert major.isdigit(), f"unexpected docker version {version!r}"
    return int(major) < 25


@functools.cache
def client_is_legacy(client: str, docker_host: str) -> bool:
    """Whether this CLI binary parses with the older grammar."""
    out = subprocess.run(
        [client, "--host", docker_host, "version", "--format", "{{.Client.Version}}"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return is_legacy(out)


@pytest.fixture(scope="module")
def legacy_engine(docker_client) -> bool:
    """Engine 20.10 predates the grammar imgtui follows; the table's `legacy` column is its."""
    return is_legacy(str(docker_client.version()["Version"]))


def parser_refusal(case: Case, legacy: bool) -> str | None:
    """What docker's parser says about `case.text`: the current grammar's, or the older one's."""
    return (case.legacy or case.error) if legacy else case.error


def engine_refusal(case: Case, legacy: bool) -> str | None:
    """What the engine answers when asked to tag with `case.text`; None when it tags."""
    refusal = parser_refusal(case, legacy)
    if refusal is None and case.has_digest:
        refusal = DIGEST_TAG
    return refusal or case.store


def assert_tagged(docker_client, image: str, ref: str, familiar: str | None) -> None:
    """`ref` now names `image`, and docker lists it under our familiar form; then untag it."""
    api = docker_client.api
    try:
        found = api.inspect_image(ref)
        assert found["Id"] == image
        assert familiar in found["RepoTags"]
    finally:
        # Only ever a tag (REPO keeps the image), and by its full name: the engine deletes
        # "0" or "cafe" as an image id prefix when the id happens to start so.
        api.remove_image(normalize(ref))


@pytest.mark.parametrize("client", _clients())
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_cli_agrees(
    case: Case,
    client: str,
    cli_env: dict[str, str],
    image: str,
    docker_client,
    docker_host: str,
    legacy_engine: bool,
    names_lock: None,
) -> None:
    result = subprocess.run(
        [client, "tag", image, case.text],
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    stderr = result.stderr.strip()
    legacy_client = client_is_legacy(client, docker_host)
    refusal = parser_refusal(case, legacy_client)
    if refusal:
        # Refused by the CLI's own parser, word for word, before the engine is asked.
        assert result.returncode != 0
        assert stderr == (
            f"Error parsing reference: {quote(case.text)} is not a valid repository/tag: {refusal}"
        )
        return
    if case.has_digest:
        # A digest names content, so nothing can be tagged with one: the CLI refuses after
        # parsing. That the engine's parser accepts the reference shows in inspect, which
        # answers "No such image" rather than a grammar error.
        assert result.returncode != 0
        assert stderr == DIGEST_TAG
        with pytest.raises(docker.errors.ImageNotFound) as info:
            docker_client.api.inspect_image(case.text)
        assert "No such image" in str(info.value.explanation)
        return
    refusal = engine_refusal(case, legacy_engine)
    name = parse_docker_ref(case.text).familiar_name
    if refusal is None and legacy_client and len(name) == 64 and is_image_id(name):
        # An older CLI sends the familiar name apart from the tag, and the engine refuses
        # a bare 64-hex name on its own; newer CLIs send the full name.
        refusal = f"invalid repository name ({name}), cannot specify 64-byte hexadecimal strings"
    if refusal:
        assert result.returncode != 0
        assert stderr == f"Error response from daemon: {refusal}"
        return
    assert result.returncode == 0, stderr
    assert_tagged(docker_client, image, case.text, case.familiar)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_engine_agrees(
    case: Case, image: str, docker_client, legacy_engine: bool, names_lock: None
) -> None:
    api = docker_client.api
    refusal = engine_refusal(case, legacy_engine)
    try:
        # The whole text as `repo`: the engine parses name, tag and digest itself.
        api.tag(image, case.text)
    except docker.errors.APIError as e:
        assert refusal is not None, f"engine refused: {e.explanation}"
        assert e.explanation == refusal
        return
    assert refusal is None, f"engine accepted what we expect it to refuse with {refusal!r}"
    assert_tagged(docker_client, image, case.text, case.familiar)
    # What the docker CLI sends: the full name, and the tag apart.
    ref = parse_docker_ref(case.text)
    assert api.tag(image, ref.name, ref.tag)
    assert_tagged(docker_client, image, case.text, case.familiar)
    # The raw split works as well, except that the engine refuses a bare 64-hex repository on
    # its own even when the whole text ("<64 hex>:tag") is fine: split_repo_tag validates nothing.
    repo, tag = split_repo_tag(case.text)
    if len(repo) == 64 and is_image_id(repo):
        with pytest.raises(docker.errors.APIError, match="64-byte hexadecimal"):
            api.tag(image, repo, tag)
        return
    assert api.tag(image, repo, tag)
    assert_tagged(docker_client, image, case.text, case.familiar)


MATCH_TAGS = (
    "busybox:latest",
    "busybox:1.36",
    "org/app:v1",
    "localhost:5000/app:1",
    "foo/a/bar:latest",
    "foo/c/baz:tag",
    "example.com/foo/c/baz:tag",
    "aa/ab:latest",
    "a/ab:latest",
)


def test_reference_filter_agrees(image: str, docker_client, names_lock: None) -> None:
    """`docker images --filter reference=P` keeps exactly the tags familiar_match keeps."""
    api = docker_client.api
    tags = (f"{REPO}:latest", *MATCH_TAGS)
    for ref in MATCH_TAGS:
        api.tag(image, *split_repo_tag(ref))
    try:
        wrong = {}
        tested = []
        for pattern in sorted({p for p, _, _ in MATCHES} - {""}):
            listed = api.images(filters={"reference": pattern})
            shown = {t for i in listed if i["Id"] == image for t in i["RepoTags"] or ()}
            expected = {t for t in tags if familiar_match(pattern, t)}
            tested.append(expected)
            if shown != expected:
                wrong[pattern] = (sorted(shown), sorted(expected))
        assert not wrong, f"pattern: (engine, familiar_match): {wrong}"
        assert len(tested) > 20 and sum(map(bool, tested)) > 10  # not vacuous
    finally:
        for ref in MATCH_TAGS:
            api.remove_image(normalize(ref))


@pytest.mark.parametrize("pattern", ["[", "[-x]", "a\\", "zzz*["])
def test_reference_filter_bad_pattern(pattern: str, image: str, docker_client) -> None:
    # The engine checks a pattern against each tag it has, so `image` must carry one.
    with pytest.raises(docker.errors.APIError) as info:
        docker_client.api.images(filters={"reference": pattern})
    assert info.value.explanation == "syntax error in pattern"
