"""BlobFile: the bytes committed are the bytes on disk, across flushes and resumes at any offset."""

from __future__ import annotations

import hashlib
import io
import os
import random
from pathlib import Path

import pytest

from imgtui.store import blobfile
from imgtui.store.blobfile import BLOCK, CHUNK, BlobFile
from imgtui.store.layout import Store
from imgtui.store.oci import FormatError


def _direct_possible(folder: Path) -> bool:
    probe = folder / "probe"
    probe.write_bytes(b"")
    fd = blobfile._open_direct(str(probe))
    if fd is None:
        return False
    os.close(fd)
    return True


def _write(path: Path, data: bytes, cuts: list[int], rng: random.Random) -> list[bool]:
    """Write `data` through BlobFiles, starting a new one (a resume) at each cut; direct used?"""
    used: list[bool] = []
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        offset = 0
        for stop in [*cuts, len(data)]:
            out = BlobFile(fd, str(path), offset, len(data))
            used.append(out.dfd is not None)
            while offset < stop:
                space = out.space()
                n = min(len(space), stop - offset, rng.randint(1, 3 * BLOCK + 7))
                space[:n] = data[offset : offset + n]
                offset += n
                out.commit(n)
            out.flush()
            out.close()
            assert os.fstat(fd).st_size == stop, "after a flush the file holds what was committed"
    finally:
        os.close(fd)
    return used


@pytest.mark.parametrize("mode", ["direct", "buffered"])
def test_bytes_survive_resumes_at_unaligned_offsets(tmp_path, monkeypatch, mode) -> None:
    rng = random.Random(7)
    size = 6 * CHUNK + 1234
    data = rng.randbytes(size)
    if mode == "buffered":  # as on a filesystem that refuses O_DIRECT
        monkeypatch.setattr(blobfile, "_open_direct", lambda path: None)
    cuts = [BLOCK - 1, CHUNK + 3, 2 * CHUNK, 2 * CHUNK + 5 * BLOCK + 1]
    used = _write(tmp_path / "blob", data, cuts, rng)
    assert (tmp_path / "blob").read_bytes() == data
    if mode == "buffered":
        assert not any(used)
    elif _direct_possible(tmp_path):
        # every piece big enough goes direct; the last (< DIRECT_FROM left) is buffered
        assert used[:-1] == [True] * len(cuts) and used[-1] is False, used


def test_small_blobs_stay_buffered(tmp_path) -> None:
    data = os.urandom(blobfile.DIRECT_FROM - 1)
    used = _write(tmp_path / "blob", data, [], random.Random(1))
    assert used == [False]
    assert (tmp_path / "blob").read_bytes() == data


def test_resume_reads_back_the_partial_block(tmp_path) -> None:
    """A resume inside a block rewrites the whole block; the bytes before it must not change."""
    if not _direct_possible(tmp_path):
        pytest.fail(f"{tmp_path} refuses O_DIRECT; this test needs a filesystem that has it")
    data = os.urandom(8 * CHUNK)
    path = tmp_path / "blob"
    path.write_bytes(data[:100])
    fd = os.open(path, os.O_RDWR)
    try:
        out = BlobFile(fd, str(path), 100, len(data))
        assert out.dfd is not None and out.base == 0 and out.pending == 100
        offset = 100
        while offset < len(data):
            space = out.space()
            n = min(len(space), len(data) - offset)
            space[:n] = data[offset : offset + n]
            offset += n
            out.commit(n)
        out.flush()
        out.close()
    finally:
        os.close(fd)
    assert path.read_bytes() == data


def test_store_writes_large_streams_exactly(tmp_path) -> None:
    """Store.write_blob sends streams (layers) through BlobFile: same digest, same bytes."""
    store = Store.open(tmp_path / "store")
    data = random.Random(3).randbytes(5 * CHUNK + 777)
    digest, size = store.write_blob(io.BytesIO(data), expected_size=len(data))
    assert (digest, size) == ("sha256:" + hashlib.sha256(data).hexdigest(), len(data))
    assert store.blob_path(digest).read_bytes() == data
    with pytest.raises(FormatError, match="longer than"):
        store.write_blob(io.BytesIO(data + b"x"), expected_size=len(data), where="layer")
    assert not list(store.tmp.iterdir()), "a refused stream leaves no temp file"
