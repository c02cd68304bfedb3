"""Files that appear whole or not at all: the one way imgtui writes what users and tools read."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO


@contextlib.contextmanager
def atomic_file(
    dest: Path, *, tmp_dir: Path | None = None, mode: int = 0o644
) -> Iterator[IO[bytes]]:
    """Write to a temp file beside `dest` (or in `tmp_dir`, same filesystem), fsync, rename.

    A failure or a kill leaves `dest` as it was and at worst a `.part` file; mkstemp's 0600 is
    widened to `mode` because other users' tools (skopeo, umoci, docker load) read these files.
    """
    fd, tmp = tempfile.mkstemp(dir=tmp_dir or dest.parent, prefix=f".{dest.name}.", suffix=".part")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, dest)
        fsync_dir(dest.parent)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def fsync_dir(path: Path) -> None:
    """Make a rename in `path` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
