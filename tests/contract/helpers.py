"""Small assertions and actions shared by the contract tests."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import TypeVar

from imgtui.backends.base import (
    Backend,
    BackendError,
    BuildOptions,
    BuildResult,
    ImageSummary,
    ProgressEvent,
)

E = TypeVar("E")

IMAGE_ID = re.compile(r"^sha256:[0-9a-f]{64}$")


def assert_user_message(err: BaseException, *fragments: str) -> str:
    """The error reads as one line for a user (no traceback), naming each of `fragments`."""
    assert isinstance(err, BackendError), f"{type(err).__name__} is not a BackendError: {err}"
    text = str(err)
    assert text.strip(), f"{type(err).__name__} with an empty message"
    assert "\n" not in text.strip(), f"multi-line message: {text!r}"
    assert "Traceback" not in text, text
    for f in fragments:
        assert f.lower() in text.lower(), f"{f!r} not in {text!r}"
    return text


def assert_aware(when: datetime | None) -> datetime:
    assert when is not None
    assert when.tzinfo is not None and when.utcoffset() is not None, f"naive datetime {when!r}"
    return when


def assert_same_second(a: datetime, b: datetime) -> None:
    assert abs(a - b) < timedelta(seconds=1), f"{a} != {b}"


def of_type(events: Iterable[object], kind: type[E]) -> list[E]:
    return [e for e in events if isinstance(e, kind)]


def by_id(images: Iterable[ImageSummary], image_id: str) -> list[ImageSummary]:
    return [i for i in images if i.id == image_id]


def ids(images: Iterable[ImageSummary]) -> set[str]:
    return {i.id for i in images}


def build(
    backend: Backend,
    context: Path,
    dockerfile: str,
    *,
    tags: Iterable[str] = (),
    files: Mapping[str, str] | None = None,
    **options: object,
) -> tuple[list[ProgressEvent], BuildResult]:
    """Write `dockerfile` (and `files`) into `context`, build with network none, return events."""
    context.mkdir(parents=True, exist_ok=True)
    (context / "Dockerfile").write_text(dockerfile)
    for name, text in (files or {}).items():
        (context / name).parent.mkdir(parents=True, exist_ok=True)
        (context / name).write_text(text)
    opts = BuildOptions(context=context, tags=tuple(tags), network_mode="none", **options)  # type: ignore[arg-type]
    events = list(backend.build(opts))
    results = of_type(events, BuildResult)
    assert len(results) == 1, f"expected one BuildResult, got {results}"
    assert events[-1] == results[0], "BuildResult must be the last event"
    return events, results[0]
