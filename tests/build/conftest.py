"""Session fixtures of the builder tests: the corpus's contexts and its engine builds."""

from __future__ import annotations

import pytest

from tests.build.corpus import Case, load_cases
from tests.build.engine_results import EngineCorpus

CASES = load_cases()


@pytest.fixture(scope="session")
def engine_corpus(
    docker_client, docker_bin: str, docker_host: str, base_image: str, tmp_path_factory
) -> EngineCorpus:
    """Every corpus case built once with the classic builder and once with BuildKit, in parallel,
    before the first test that needs the engine's results."""
    corpus = EngineCorpus(docker_client, docker_bin, docker_host, tmp_path_factory.mktemp("corpus"))
    corpus.build_all(CASES, builders=(False, True))
    return corpus


@pytest.fixture(scope="session")
def base_config(docker_client, base_image: str):
    """Config lookup for the evaluator: the engine's own config of an image reference."""

    def lookup(ref: str) -> dict:
        return dict(docker_client.api.inspect_image(ref).get("Config") or {})

    return lookup


def case_ids(cases: list[Case]) -> list[str]:
    return [c.name for c in cases]
