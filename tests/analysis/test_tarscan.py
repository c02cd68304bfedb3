"""The lean tar reader against tarfile and GNU tar: names, links, sizes, hashes, bad input."""

from __future__ import annotations

import hashlib
import io
import subprocess
import tarfile
from pathlib import Path

import pytest

from imgtui.analysis.tarscan import TarFormatError, _num, iter_entries, iter_members, normalize


def _tar(fmt: int, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=fmt) as t:
        for info, data in members:
            t.addfile(info, io.BytesIO(data) if data is not None else None)
    return out.getvalue()


def _info(name: str, **kw) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    for k, v in kw.items():
        setattr(info, k, v)
    return info


class Dribble:
    """A stream handing out at most `step` bytes per read, to cross every buffer boundary."""

    def __init__(self, data: bytes, step: int) -> None:
        self.f = io.BytesIO(data)
        self.step = step

    def read(self, n: int = -1) -> bytes:
        return self.f.read(self.step if n < 0 else min(n, self.step))


LONG = "deep/" + "d" * 120 + "/" + "n" * 130 + ".txt"
LINK = "/usr/lib/" + "t" * 140


@pytest.mark.parametrize("fmt", [tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])
@pytest.mark.parametrize("step", [13, 511, 4096, 1 << 22])
def test_matches_tarfile(fmt: int, step: int) -> None:
    big = bytes(range(256)) * 9000  # crosses the 1 MiB buffer when step is large
    members = [
        (_info("./etc/", type=tarfile.DIRTYPE, mode=0o755), None),
        (
            _info("etc/passwd", size=11, uid=70000000 if fmt == tarfile.GNU_FORMAT else 7),
            b"root:x:0:0\n",
        ),
        (_info(LONG, size=len(big), mode=0o4755), big),
        (_info("lnk", type=tarfile.SYMTYPE, linkname=LINK), None),
        (_info("hard", type=tarfile.LNKTYPE, linkname="etc/passwd"), None),
        (_info("dev/null", type=tarfile.CHRTYPE, devmajor=1, devminor=3), None),
        (_info("fifo", type=tarfile.FIFOTYPE), None),
        (_info("empty", size=0), b""),
    ]
    data = _tar(fmt, members)
    got = list(iter_entries(Dribble(data, step)))
    with tarfile.open(fileobj=io.BytesIO(data)) as t:
        ref = list(t)
    assert [g[0] for g in got] == [normalize(m.name) for m in ref]
    assert [g[1] for g in got] == ["d", "f", "f", "l", "h", "c", "p", "f"]
    assert got[1][3] == ref[1].uid  # base-256 uid in GNU format
    assert got[2][2] == 0o4755 and got[2][5] == len(big)
    assert got[2][7] == hashlib.sha256(big).hexdigest()
    assert got[3][6] == LINK and got[4][6] == "etc/passwd"
    assert got[7][7] == hashlib.sha256(b"").hexdigest()


def test_ustar_prefix_field() -> None:
    name = "p" * 120 + "/file"  # ustar splits it into prefix + name
    data = _tar(tarfile.USTAR_FORMAT, [(_info(name, size=3), b"abc")])
    assert data[345:350] == b"ppppp"
    assert next(iter_entries(io.BytesIO(data)))[0] == name


def test_base256_numbers() -> None:
    assert _num(b"\x80" + (12345678901).to_bytes(11, "big")) == 12345678901
    assert _num(b"0000644\x00") == 0o644
    assert _num(b"        ") == 0


def test_gnu_sparse_file_is_skipped_correctly(tmp_path: Path) -> None:
    """GNU tar's sparse members (old GNU format): real size reported, data skipped exactly."""
    sparse = tmp_path / "src" / "sparse"
    sparse.parent.mkdir()
    with sparse.open("wb") as f:
        f.seek(5 << 20)
        f.write(b"end")
    (tmp_path / "src" / "after").write_bytes(b"after")
    out = tmp_path / "s.tar"
    subprocess.run(
        [
            "tar",
            "--format=gnu",
            "--sparse",
            "-cf",
            str(out),
            "-C",
            str(tmp_path / "src"),
            "sparse",
            "after",
        ],
        check=True,
    )
    got = {g[0]: g for g in iter_entries(out.open("rb"))}
    assert got["sparse"][5] == (5 << 20) + 3
    assert got["after"][7] == hashlib.sha256(b"after").hexdigest()


@pytest.mark.parametrize(
    ("raw", "names"),
    [
        ("./a/b/", "a/b"),
        ("/abs/x", "abs/x"),
        ("a//b/./c", "a/b/c"),
        ("../../etc", "etc"),
        ("./", ""),
    ],
)
def test_normalize(raw: str, names: str) -> None:
    assert normalize(raw) == names


def test_truncated_and_corrupt_input_say_where() -> None:
    data = _tar(tarfile.PAX_FORMAT, [(_info("f", size=5000), b"x" * 5000)])
    with pytest.raises(TarFormatError, match="truncated"):
        list(iter_entries(io.BytesIO(data[:2000]), where="layer L"))
    with pytest.raises(TarFormatError, match="layer L: not a tar header at byte 0"):
        list(iter_entries(io.BytesIO(b"{" + b"x" * 1000), where="layer L"))
    assert list(iter_entries(io.BytesIO(b""))) == []  # an empty layer is a layer without files


def _read_up_to(m, n: int) -> bytes:
    """Read like a consumer: short reads are allowed, so loop until n bytes or the end."""
    out = b""
    while len(out) < n:
        chunk = m.read(n - len(out))
        if not chunk:
            break
        out += chunk
    return out


def test_members_stream_partial_reads() -> None:
    """Whatever a consumer leaves unread of a member is skipped, padding included."""
    sizes = [0, 1, 511, 512, 1000, 70_000]
    data = _tar(
        tarfile.PAX_FORMAT, [(_info(f"m{i}", size=s), bytes([i]) * s) for i, s in enumerate(sizes)]
    )
    for take in (0, 1, 600, 10**9):
        seen = []
        for m in iter_members(Dribble(data, 777)):
            got = _read_up_to(m, take)
            assert set(got) <= {int(m.name[1:])}
            seen.append((m.name, m.size, len(got)))
        assert seen == [(f"m{i}", s, min(s, take)) for i, s in enumerate(sizes)]
