"""scan_layer on its own: figures of a good layer, one clear error for a damaged one."""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile

import pytest
import zstandard

from imgtui.store.layers import scan_layer
from imgtui.store.oci import FormatError


def _layer() -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, data in (("etc/os-release", b"ID=test\n"), ("bin/tool", b"x" * 5000)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


COMPRESS = {
    "tar": lambda b: b,
    "gzip": lambda b: gzip.compress(b, mtime=0),
    "zstd": lambda b: zstandard.ZstdCompressor().compress(b),
}


@pytest.mark.parametrize("compression", sorted(COMPRESS))
def test_figures(compression: str) -> None:
    raw = _layer()
    blob = COMPRESS[compression](raw)
    info = scan_layer(io.BytesIO(blob), len(blob), "layer x")
    assert info.diff_id == "sha256:" + hashlib.sha256(raw).hexdigest()
    assert (info.size, info.entries, info.compression) == (5008, 2, compression)


def test_a_known_digest_is_the_diff_id_of_a_plain_layer_only() -> None:
    raw = _layer()
    digest = "sha256:" + hashlib.sha256(raw).hexdigest()
    assert scan_layer(io.BytesIO(raw), len(raw), "l", digest).diff_id == digest
    left = scan_layer(io.BytesIO(raw), len(raw), "l", plain_hashed_by_caller=True)
    assert left.diff_id == "", "the caller fills it in from the digest it computed"
    gz = gzip.compress(raw, mtime=0)
    gz_digest = "sha256:" + hashlib.sha256(gz).hexdigest()
    assert scan_layer(io.BytesIO(gz), len(gz), "l", gz_digest).diff_id == digest


@pytest.mark.parametrize("compression", ["gzip", "zstd"])
def test_a_damaged_stream_is_one_format_error(compression: str) -> None:
    blob = bytearray(COMPRESS[compression](_layer()))
    blob[len(blob) // 2] ^= 0xFF
    with pytest.raises(FormatError, match=r"^layer x: not a valid layer tar \("):
        scan_layer(io.BytesIO(bytes(blob)), len(blob), "layer x")
