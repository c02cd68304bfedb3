"""The lean path of `imgtui analyze|diff` (issue 7, memory): the same command line as the full
parser, no backend or store module for archives, the archive index against the store's reader,
small buffers, and the thread pool."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from imgtui import cli
from imgtui.analysis import sources
from imgtui.analysis.engine import AnalysisError, _in_threads
from imgtui.analysis.tarscan import CHUNK, STREAM_CHUNK, iter_entries, iter_members
from imgtui.store import archive as store_archive
from imgtui.store import oci
from imgtui.store.oci import FormatError
from tests.analysis.conftest import run_cli
from tests.analysis.images import LAYERS, docker_archive

# ------------------------------------------------------------------------------------ CLI


def _subparser(parser, name: str):
    action = next(a for a in parser._actions if a.dest == "command")
    return action.choices[name]


@pytest.mark.parametrize("verb", ["analyze", "diff"])
def test_lean_parser_is_the_full_parsers_verb(verb: str) -> None:
    full = _subparser(cli.build_parser(), verb)
    lean = _subparser(cli.build_parser(analysis_only=True), verb)
    assert lean.format_help() == full.format_help()
    assert lean.prog == full.prog == f"imgtui {verb}"
    argv = [verb, "--format", "json", "docker-archive:x.tar"] + (["y"] if verb == "diff" else [])
    assert vars(cli.build_parser(analysis_only=True).parse_args(argv)) == vars(
        cli.build_parser().parse_args(argv)
    )


@pytest.mark.parametrize(
    "argv",
    [
        ["analyze"],
        ["analyze", "--format", "xml", "docker-archive:x"],
        ["analyze", "docker-archive:x", "extra"],
        ["analyze", "--store", "/tmp/s", "docker-archive:x"],
        ["diff", "docker-archive:x"],
    ],
)
def test_lean_parser_refuses_the_same_way(argv: list[str]) -> None:
    messages = []
    for parser in (cli.build_parser(), cli.build_parser(analysis_only=True)):
        with pytest.raises(cli.UsageError) as e:
            parser.parse_args(argv)
        messages.append(str(e.value))
    assert messages[0] == messages[1]


def test_cli_help_bad_usage_and_errors(tmp_path: Path, private_cache: Path) -> None:
    """What a user sees from the lean path: help, usage errors, input errors, JSON."""
    env_cols = {"COLUMNS": "100"}
    os.environ.update(env_cols)
    try:
        expected = _subparser(cli.build_parser(), "analyze").format_help()
        shown = run_cli(private_cache, "analyze", "--help")
    finally:
        for k in env_cols:
            os.environ.pop(k)
    assert shown.returncode == 0 and shown.stdout == expected

    usage = run_cli(private_cache, "analyze")
    assert usage.returncode == 2
    assert usage.stderr == (
        "imgtui analyze: the following arguments are required: IMAGE\nSee 'imgtui --help'.\n"
    )
    extra = run_cli(private_cache, "analyze", "docker-archive:x", "y")
    assert extra.returncode == 2
    assert extra.stderr.startswith("imgtui: unrecognized arguments: y\n")

    bad = run_cli(private_cache, "analyze", "tarball-archive:/x")
    assert bad.returncode == 2
    assert bad.stderr == (
        "Error: tarball-archive: unknown transport "
        "(use docker-archive:PATH, oci-archive:PATH or oci:DIR[:TAG])\n"
    )
    missing = run_cli(private_cache, "analyze", f"docker-archive:{tmp_path / 'no.tar'}")
    assert missing.returncode == 1
    assert missing.stderr == f"Error: {tmp_path / 'no.tar'}: no such file\n"

    docker_archive(tmp_path / "a.tar", LAYERS)
    out = run_cli(private_cache, "analyze", "--format", "json", f"docker-archive:{tmp_path}/a.tar")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["inefficientBytes"] == 380_091
    # the other verbs still parse as before
    assert run_cli(private_cache, "--version").stdout.startswith("imgtui version ")


def test_archive_analysis_imports_no_backend_or_store(tmp_path: Path, private_cache: Path) -> None:
    docker_archive(tmp_path / "a.tar", LAYERS)
    # what the interpreter had before imgtui (an editable install's finder brings pathlib)
    code = (
        "import sys\n"
        "before = set(sys.modules)\n"
        "from imgtui.cli import main\n"
        f"rc = main(['analyze', '--format', 'json', 'docker-archive:{tmp_path}/a.tar'])\n"
        "print(rc, file=sys.stderr)\n"
        "print(' '.join(sorted(set(sys.modules) - before)), file=sys.stderr)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKER_", "IMGTUI_"))}
    env["IMGTUI_CACHE_DIR"] = str(private_cache)
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    rc, modules = done.stderr.strip().splitlines()[-2:]
    assert rc == "0", done.stderr
    loaded = set(modules.split())
    assert "imgtui.analysis.engine" in loaded
    unwanted = {
        "imgtui.backends",
        "imgtui.backends.base",
        "imgtui.registry",
        "tarfile",
        "tempfile",
        "pathlib",
        "typing",
        "concurrent.futures",
        "logging",
        "datetime",
        "platformdirs",
        "textual",
    }
    assert not loaded & unwanted, sorted(loaded & unwanted)
    store = {m for m in loaded if m.startswith("imgtui.store.")}
    assert store == {"imgtui.store.tarindex"}, "only the shared member rules, stdlib-only"


# ------------------------------------------------------------------------------------ archives


def test_constants_agree_with_the_store() -> None:
    assert sources.MAX_JSON == oci.MAX_JSON_BLOB
    assert sources._DIGEST_RE.pattern == oci.DIGEST_RE.pattern


def _member(name: str, data: bytes | None = None, **kw) -> tuple[tarfile.TarInfo, bytes | None]:
    info = tarfile.TarInfo(name)
    for k, v in kw.items():
        setattr(info, k, v)
    if data is not None:
        info.size = len(data)
    return info, data


def _archive(members) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as t:
        for info, data in members:
            t.addfile(info, io.BytesIO(data) if data is not None else None)
    return out.getvalue()


GOOD = [
    _member("manifest.json", b"[]"),
    _member("abc", type=tarfile.DIRTYPE),
    _member("abc/layer.tar", b"x" * 3000),
    _member("def/layer.tar", type=tarfile.SYMTYPE, linkname="../abc/layer.tar"),
    _member("./blobs/sha256/" + "a" * 64, b"{}"),
    _member("deep/" + "n" * 150 + "/f", b"long name"),
]


def _store_view(path: Path):
    with path.open("rb") as f, store_archive._tar_view(f, path.stat().st_size, "t.tar") as a:
        files = {n: (i.offset_data, i.size) for n, i in a.files.items()}
        return files, dict(a.links)


def _lean_view(path: Path):
    with path.open("rb") as f:
        index = sources._Index(f.fileno(), path.stat().st_size, "t.tar")
        return index.files, index.links


def test_index_finds_what_the_store_finds(tmp_path: Path) -> None:
    path = tmp_path / "a.tar"
    path.write_bytes(_archive(GOOD))
    assert _lean_view(path) == _store_view(path)
    docker_archive(tmp_path / "d.tar", LAYERS)
    assert _lean_view(tmp_path / "d.tar") == _store_view(tmp_path / "d.tar")


BAD = {
    "hard link": [*GOOD, _member("h", type=tarfile.LNKTYPE, linkname="manifest.json")],
    "device": [*GOOD, _member("dev", type=tarfile.CHRTYPE)],
    "fifo": [*GOOD, _member("p", type=tarfile.FIFOTYPE)],
    "twice": [*GOOD, _member("abc/layer.tar", b"again")],
    "absolute": [*GOOD, _member("/etc/passwd", b"x")],
    "climbs": [*GOOD, _member("a/../../x", b"x")],
    "link out": [*GOOD, _member("l", type=tarfile.SYMTYPE, linkname="../../x")],
    "link absolute": [*GOOD, _member("l", type=tarfile.SYMTYPE, linkname="/x")],
    "link dangling": [*GOOD, _member("l", type=tarfile.SYMTYPE, linkname="nothing")],
    "link loop": [
        *GOOD,
        _member("l1", type=tarfile.SYMTYPE, linkname="l2"),
        _member("l2", type=tarfile.SYMTYPE, linkname="l1"),
    ],
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_index_refuses_what_the_store_refuses(tmp_path: Path, case: str) -> None:
    path = tmp_path / "bad.tar"
    path.write_bytes(_archive(BAD[case]))
    with pytest.raises(FormatError) as store:
        _store_view(path)
    with pytest.raises(AnalysisError) as lean:
        _lean_view(path)
    assert str(lean.value) == str(store.value)


@pytest.mark.parametrize(
    "cut",
    [
        "garbage",
        "empty",
        "inside data",
        "no end marker",
        "half header",
        "bad header after",
        "bad checksum after",
    ],
)
def test_index_refuses_broken_archives_as_the_store(tmp_path: Path, cut: str) -> None:
    data = _archive(GOOD)
    end = len(data) - 1024  # the two zero blocks of the end marker
    while data[end - 512 : end].count(0) == 512:  # tarfile pads to a record: find the end
        end -= 512
    junk = b"this is not a tar header " * 21
    broken = {
        "garbage": junk * 4,
        "empty": b"",
        "inside data": data[: 512 * 3 + 100],
        "no end marker": data[:end],
        "half header": data[:end] + b"\0" * 100 + b"x",
        "bad header after": data[:end] + junk[:512] + b"\0" * 1024,
        "bad checksum after": data[:end]
        + _archive([_member("z", b"z")])[:148]
        + b"0000000\0"
        + _archive([_member("z", b"z")])[156:],
    }[cut]
    path = tmp_path / "broken.tar"
    path.write_bytes(broken)
    with pytest.raises(FormatError) as store:
        _store_view(path)
    with pytest.raises(AnalysisError) as lean:
        _lean_view(path)
    # the same message; tarfile's own words in parentheses may differ
    assert str(lean.value).split(" (")[0] == str(store.value).split(" (")[0]


# ------------------------------------------------------------------------------------ buffers


class _NoReadinto:
    def __init__(self, data: bytes) -> None:
        self.f = io.BytesIO(data)

    def read(self, n: int = -1) -> bytes:
        return self.f.read(n)


@pytest.mark.parametrize("readinto", [True, False])
def test_big_files_stream_through_the_small_buffer(readinto: bool) -> None:
    big = os.urandom(STREAM_CHUNK * 3 + 777)
    odd = os.urandom(CHUNK - 300)  # ends just before a buffer refill: padding straddles
    data = _archive([_member("odd", odd), _member("big", big), _member("small", b"s")])
    stream = io.BytesIO(data) if readinto else _NoReadinto(data)
    got = {e[0]: e[7] for e in iter_entries(stream)}
    assert got == {
        "odd": hashlib.sha256(odd).hexdigest(),
        "big": hashlib.sha256(big).hexdigest(),
        "small": hashlib.sha256(b"s").hexdigest(),
    }


def test_slice_skips_and_reads_in_place(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(bytes(range(256)) * 4)
    with path.open("rb") as f:
        s = sources._Slice(f.fileno(), 10, 100)
        assert s.skip(5) == 5
        buf = memoryview(bytearray(10))
        assert s.readinto(buf) == 10 and bytes(buf) == bytes(range(15, 25))
        assert s.skip(1000) == 85 and s.read() == b"" and s.readinto(buf) == 0


def test_a_json_member_straddling_the_buffer_is_read_whole() -> None:
    """The daemon's export: manifest.json read with read() wherever the buffer ends."""
    pad = b"p" * (CHUNK - 700)
    doc = json.dumps({"k": "v" * 5000}).encode()
    data = _archive([_member("pad", pad), _member("manifest.json", doc)])
    seen = {m.name: m.read() for m in iter_members(io.BytesIO(data))}
    assert seen["manifest.json"] == doc


# ------------------------------------------------------------------------------------ threads


def test_threads_keep_the_order_and_raise_the_first_error() -> None:
    def square(i: int):
        if i == 7:
            raise ValueError("seven")
        return i, i * i

    assert list(_in_threads(square, list(range(7)), 2)) == [(i, i * i) for i in range(7)]
    got = []
    with pytest.raises(ValueError, match="seven"):
        for item in _in_threads(square, list(range(12)), 3):
            got.append(item)
    assert got == [(i, i * i) for i in range(7)]
    gen = _in_threads(square, list(range(5)), 2)
    assert next(gen) == (0, 0)
    gen.close()  # stopping early waits for the threads, takes nothing new


def test_json_output_is_json_dumps(capsys: pytest.CaptureFixture[str]) -> None:
    from imgtui.analysis.cli import _print_json

    obj = {"files": [{"path": f"/ü/{i}", "n": i, "x": [1.5, None, True]} for i in range(3000)]}
    _print_json(obj)
    assert capsys.readouterr().out == json.dumps(obj, ensure_ascii=False, indent=2) + "\n"


@pytest.mark.parametrize("xdg", [None, "", "   ", "/tmp/xdg-cache"])
def test_user_cache_dir_is_platformdirs(monkeypatch: pytest.MonkeyPatch, xdg: str | None) -> None:
    import platformdirs

    from imgtui.analysis.api import user_cache_dir

    if xdg is None:
        monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    else:
        monkeypatch.setenv("XDG_CACHE_HOME", xdg)
    assert user_cache_dir() == platformdirs.user_cache_dir("imgtui")
