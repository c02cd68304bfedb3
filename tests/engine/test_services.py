"""The session's real services answer: everything else relies on them."""

import json
import urllib.request


def test_engine_answers(docker_client, base_image):
    assert docker_client.ping()
    assert docker_client.api.inspect_image(base_image)["Id"] == base_image


def test_registry_answers(registry):
    with urllib.request.urlopen(f"http://{registry}/v2/_catalog", timeout=5) as r:
        assert "repositories" in json.loads(r.read())
