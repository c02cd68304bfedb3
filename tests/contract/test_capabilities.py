"""What a backend kind cannot do yet, it says so: Unsupported, one line, nothing changed."""

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


@pytest.fixture(params=MISSING, ids=[f"{k}-{c}" for k, c in MISSING])
def missing(request: pytest.FixtureRequest) -> tuple[str, str]:
    return request.param


def test_missing_capability_is_refused_clearly(
    request: pytest.FixtureRequest,
    sources: Mapping[str, SourceArchive],
    unique_repo: str,
    missing: tuple[str, str],
    tmp_path: Path,
) -> None:
    kind, cap = missing
    harness = make_harness(kind, request, sources, unique_repo, tmp_path, isolated=False)
    try:
        harness.put("layered", tags=("x",))
        before = [i.id for i in harness.backend.images(all=True)]
        with pytest.raises(Unsupported) as err:
            ATTEMPTS[cap](harness.backend, tmp_path)
        assert_user_message(err.value)
        assert [i.id for i in harness.backend.images(all=True)] == before
    finally:
        harness.cleanup()
