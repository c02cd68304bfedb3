"""Shared steps of the registry tests."""

from __future__ import annotations

from imgtui import reference
from imgtui.backends.base import LayerProgress, StatusLine
from imgtui.registry import pull as pull_mod
from imgtui.registry import push as push_mod
from imgtui.registry.client import RegistryClient
from imgtui.store import gc
from imgtui.store.layout import Store
from imgtui.store.oci import Descriptor


def push(store: Store, ref: str, manifest: Descriptor, **kw) -> list[object]:
    r = reference.parse_docker_ref(ref)
    return list(push_mod.push(store, r, manifest, **kw))


def pull(store: Store, ref: str, **kw) -> list[object]:
    return list(pull_mod.pull(store, ref, **kw))


def lines(events: list[object]) -> list[str]:
    return [e.text for e in events if isinstance(e, StatusLine)]


def statuses(events: list[object]) -> set[str]:
    return {e.status for e in events if isinstance(e, LayerProgress)}


def assert_clean(store: Store) -> None:
    report = gc.fsck(store)
    assert report.ok, report
    assert not report.missing and not report.corrupt


def client(host: str, **kw) -> RegistryClient:
    return RegistryClient(host, **kw)
