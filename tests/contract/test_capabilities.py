"""What a backend kind cannot do, it says so: Unsupported, one line, nothing changed."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from imgtui.backends.base import BuildOptions, Unsupported
from tests.contract.archives import SourceArchive
from tests.contract.conftest import BACKEND_KINDS, CAPABILITIES, make_harness
from tests.contract.helpers import assert_user_message

pytestmark = pytest.mark.engine

ATTEMPTS = {
    "build": lambda b, tmp: list(b.build(BuildOptions(context=tmp))),
    "registry": lambda b, _: list(b.pull("127.0.0.1:5000/imgtui-test/x:latest")),
    "commit": lambda b, _: b.commit("some-container"),
}
MISSING = [
    (kind, cap)
    for kind in BACKEND_KINDS
    for cap in sorted(ATTEMPTS)
    if cap not in CAPABILITIES[kind]
]
# What stays refused on purpose, whatever the capabilities: (kind, what, attempt).
REFUSED = [
    # an interactive session on a daemon belongs to `docker run -it`
    ("docker", "run-it", lambda b, _: b.run_container("imgtui-test/x:latest", tty=True)),
    # a daemon holds one platform per image
    ("docker", "analyze-platform", lambda b, _: b.analyze("x:1", platform="linux/arm64")),
]
CASES = [(k, c, ATTEMPTS[c]) for k, c in MISSING] + REFUSED


def test_every_kind_has_every_capability_now() -> None:
    """The daemonless builder, sandbox and registry client landed: no kind lacks any."""
    assert MISSING == []
    assert all(set(ATTEMPTS) <= CAPABILITIES[kind] for kind in BACKEND_KINDS)


@pytest.mark.parametrize(("kind", "what", "attempt"), CASES, ids=[f"{k}-{w}" for k, w, _ in CASES])
def test_refused_clearly_and_nothing_changed(
    request: pytest.FixtureRequest,
    sources: Mapping[str, SourceArchive],
    unique_repo: str,
    kind: str,
    what: str,
    attempt,
    tmp_path: Path,
) -> None:
    harness = make_harness(kind, request, sources, unique_repo, tmp_path, isolated=False)
    try:
        harness.put("layered", tags=("x",))
        before = sorted(i.id for i in harness.backend.images(all=True))
        with pytest.raises(Unsupported) as err:
            attempt(harness.backend, tmp_path)
        assert_user_message(err.value)
        assert sorted(i.id for i in harness.backend.images(all=True)) == before
    finally:
        harness.cleanup()
