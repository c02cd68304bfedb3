"""Analysis of hand-made images (no daemon): trees, dive's figures checked against dive itself,
the transports, the CLI and its CI gate, the cache, and diff."""

from __future__ import annotations

import gzip
import json
import random
import tarfile
from pathlib import Path

import pytest
import zstandard

from imgtui.analysis.api import AnalysisError, analyze_transport, diff
from imgtui.analysis.engine import Cache
from tests.analysis.conftest import dive_figures, run_cli
from tests.analysis.images import (
    BASE,
    LAYERS,
    docker_archive,
    oci_archive,
    oci_layout,
    oci_multiarch,
)


def _changes(layer) -> dict[str, str]:
    return {n.path: n.change for n in layer.tree}


def test_layer_trees_classify_every_change(tmp_path: Path) -> None:
    docker_archive(tmp_path / "a.tar", LAYERS)
    a = analyze_transport(f"docker-archive:{tmp_path / 'a.tar'}", trees=True)
    base, mid, top = a.layers
    assert (base.added, base.modified, base.removed) == (12, 0, 0)
    assert all(c == "added" for c in _changes(base).values())
    assert _changes(mid) == {
        "/etc": "unchanged",
        "/etc/passwd": "modified",
        "/big.dat": "added",
        "/big.link": "added",
        "/etc/alias": "added",
    }
    nodes = {n.path: n for n in mid.tree}
    assert nodes["/big.link"].kind == "hardlink" and nodes["/big.link"].link == "big.dat"
    assert nodes["/etc/alias"].kind == "symlink" and nodes["/etc/alias"].link == "/etc/passwd"
    assert nodes["/big.dat"].size == 300_000 and nodes["/big.dat"].digest.startswith("sha256:")
    top_changes = _changes(top)
    # whiteouts of a file and a folder, and the opaque folder's old content, are removals
    assert top_changes["/big.dat"] == "removed"
    assert top_changes["/var/cache"] == "removed"
    assert top_changes["/opt/app/old.txt"] == "removed"
    assert top_changes["/opt/app/new.txt"] == "added"
    assert top_changes["/bin/busybox"] == "modified"
    assert (top.added, top.modified, top.removed) == (1, 1, 3)
    assert [layer.command for layer in a.layers] == [f"/bin/sh -c step {i}" for i in range(3)]


def test_figures_match_dive(tmp_path: Path) -> None:
    """The known image: figures worked out by hand, and dive agrees to the byte."""
    archive = tmp_path / "a.tar"
    docker_archive(archive, LAYERS)
    a = analyze_transport(f"docker-archive:{archive}")
    # big.dat twice (300 kB + its whiteout), busybox twice, passwd twice
    assert a.wasted_bytes == 300_000 + 80_000 + 30 + 61
    assert [(f.path, f.count) for f in a.inefficient][:2] == [("/big.dat", 2), ("/bin/busybox", 2)]
    dive = dive_figures(archive, tmp_path)
    assert a.size == dive["sizeBytes"]
    assert a.wasted_bytes == dive["inefficientBytes"]
    assert a.efficiency == pytest.approx(dive["efficiencyScore"], abs=1e-12)
    assert [(f.path, f.count, f.wasted) for f in a.inefficient] == [
        (r["file"], r["count"], r["sizeBytes"]) for r in dive["fileReference"]
    ]


def _random_layers(seed: int) -> list[list[tuple]]:
    """Layers of random overwrites, additions, file and folder whiteouts, re-listed folders."""
    rnd = random.Random(seed)
    files: dict[str, int] = {}
    dirs = ["a", "a/b", "a/b/c", "d", "d/e", "f"]
    base = [("dir", d) for d in dirs]
    for i in range(60):
        path = f"{rnd.choice(dirs)}/f{i}"
        size = rnd.choice([0, 1, 100, 4096, 20_000])
        files[path] = size
        base.append(("file", path, bytes([i]) * size))
    layers = [base]
    for n in range(4):
        ops: list[tuple] = []
        touched: set[str] = set()
        for _ in range(12):
            roll = rnd.random()
            live = sorted(p for p in files if p not in touched)
            if roll < 0.4 and live:
                p = rnd.choice(live)
                size = rnd.choice([0, 7, 5000])
                ops.append(("file", p, b"n" * size))
                files[p] = size
            elif roll < 0.6:
                p = f"{rnd.choice(dirs)}/new{n}_{len(ops)}"
                if p not in files and p.rpartition("/")[0] in dirs:
                    ops.append(("file", p, b"q" * 3000))
                    files[p] = 3000
            elif roll < 0.85 and live:
                p = rnd.choice(live)
                ops.append(("whiteout", p))
                del files[p]
            else:
                ops.append(("dir", rnd.choice(dirs)))
            touched.update(op[1] for op in ops)
        if n == 2 and "d/e" in dirs:  # a whole folder goes
            ops.append(("whiteout", "d/e"))
            dirs.remove("d/e")
            for p in [p for p in files if p.startswith("d/e/")]:
                del files[p]
        layers.append(ops)
    return layers


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_images_agree_with_dive(tmp_path: Path, seed: int) -> None:
    archive = tmp_path / f"r{seed}.tar"
    docker_archive(archive, _random_layers(seed))
    a = analyze_transport(f"docker-archive:{archive}")
    dive = dive_figures(archive, tmp_path)
    assert a.size == dive["sizeBytes"]
    assert a.wasted_bytes == dive["inefficientBytes"]
    assert a.efficiency == pytest.approx(dive["efficiencyScore"], abs=1e-12)
    assert sorted((f.path, f.count, f.wasted) for f in a.inefficient) == sorted(
        (r["file"], r["count"], r["sizeBytes"]) for r in dive["fileReference"]
    )


def _messy_layers(seed: int) -> list[list[tuple]]:
    """Layers docker would not write but other tools do: whiteouts of paths already gone, files
    re-added below a removed folder without its folder entry."""
    rnd = random.Random(seed)
    layers: list[list[tuple]] = []
    base: list[str] = []
    for n in range(4):
        ops: list[tuple] = [("dir", f"u/l{n}/d{d}") for d in range(3)]
        for i in range(30):
            name = f"u/l{n}/d{i % 3}/f{i}"
            ops.append(("file", name, b"x" * rnd.randint(0, 50)))
            if n == 0:
                base.append(name)
        if n:
            ops += [("file", name, b"y" * 7 + bytes([n])) for name in rnd.sample(base, 5)]
            ops += [("whiteout", name) for name in rnd.sample(base[15:], 3)]
            ops.append(("whiteout", f"u/l{n - 1}/d2"))
        layers.append(ops)
    return layers


@pytest.mark.parametrize("seed", [0, 5, 9])
def test_messy_layers_agree_with_dive(tmp_path: Path, seed: int) -> None:
    """dive's quirks are followed: its walk of a layer stops at a whiteout of a missing path,
    and a folder re-created only implicitly is no folder to it when removed later."""
    archive = tmp_path / f"m{seed}.tar"
    docker_archive(archive, _messy_layers(seed))
    a = analyze_transport(f"docker-archive:{archive}")
    dive = dive_figures(archive, tmp_path)
    assert a.wasted_bytes == dive["inefficientBytes"]
    assert a.efficiency == pytest.approx(dive["efficiencyScore"], abs=1e-12)


def test_transports_give_the_same_answer(tmp_path: Path) -> None:
    docker_archive(tmp_path / "a.tar", LAYERS)
    oci_layout(tmp_path / "layout", LAYERS, tag="v1")
    oci_archive(tmp_path / "o.tar", tmp_path / "work", LAYERS)
    ref = analyze_transport(f"docker-archive:{tmp_path / 'a.tar'}")
    for spec in (
        f"oci:{tmp_path / 'layout'}:v1",
        f"oci:{tmp_path / 'layout'}",
        f"oci-archive:{tmp_path / 'o.tar'}",
    ):
        got = analyze_transport(spec)
        assert got.id == ref.id
        assert (got.size, got.wasted_bytes, got.efficiency) == (
            ref.size,
            ref.wasted_bytes,
            ref.efficiency,
        )
    with pytest.raises(AnalysisError, match="no image named 'v2'"):
        analyze_transport(f"oci:{tmp_path / 'layout'}:v2")


def test_zstd_and_gzip_layers(tmp_path: Path) -> None:
    root = tmp_path / "layout"
    oci_layout(root, LAYERS, gzip_layers=False)
    index = json.loads((root / "index.json").read_text())
    blobs = root / "blobs" / "sha256"
    manifest = json.loads((blobs / index["manifests"][0]["digest"][7:]).read_bytes())
    # recompress the layers in place (names stay: this reader does not check blob digests)
    for i, layer in enumerate(manifest["layers"]):
        path = blobs / layer["digest"][7:]
        data = path.read_bytes()
        path.write_bytes(
            zstandard.ZstdCompressor().compress(data) if i % 2 else gzip.compress(data)
        )
    a = analyze_transport(f"oci:{root}")
    assert a.wasted_bytes == 380_091


def test_shared_base_layers_come_from_cache(tmp_path: Path, private_cache: Path) -> None:
    docker_archive(tmp_path / "one.tar", LAYERS)
    docker_archive(tmp_path / "two.tar", [BASE, [("file", "other", b"o" * 10)]], tag="test/two:1")
    analyze_transport(f"docker-archive:{tmp_path / 'one.tar'}")
    seen = []
    two = analyze_transport(f"docker-archive:{tmp_path / 'two.tar'}", progress=seen.append)
    assert [(p.index, p.cached) for p in sorted(seen, key=lambda p: p.index)] == [
        (0, True),
        (1, False),
    ]
    assert not two.cached
    again = analyze_transport(f"docker-archive:{tmp_path / 'two.tar'}")
    assert again.cached and again.wasted_bytes == two.wasted_bytes
    # a damaged cache file is a miss, never a failure
    for f in (private_cache / "analysis").rglob("*.json"):
        f.write_text("{broken")
    assert analyze_transport(f"docker-archive:{tmp_path / 'two.tar'}").size == two.size


def test_diff_files_and_config(tmp_path: Path) -> None:
    docker_archive(tmp_path / "one.tar", LAYERS[:2])
    docker_archive(
        tmp_path / "two.tar",
        LAYERS,
        tag="t/two:1",
        extra={"Env": ["PATH=/bin", "A=2"], "Cmd": ["top"]},
    )
    one = analyze_transport(f"docker-archive:{tmp_path / 'one.tar'}", trees=True)
    two = analyze_transport(f"docker-archive:{tmp_path / 'two.tar'}", trees=True)
    d = diff(one, two)
    by = {c.path: c for c in d.files}
    assert by["/opt/app/new.txt"].change == "added"
    assert {"/big.dat", "/var/cache", "/var/cache/a.bin", "/opt/app/old.txt"} <= {
        p for p, c in by.items() if c.change == "removed"
    }
    assert by["/bin/busybox"].change == "changed" and by["/bin/busybox"].what == ("content",)
    assert "/etc/passwd" not in by  # same in both
    assert {c.key: (c.before, c.after) for c in d.config} == {
        "Env": (["PATH=/bin", "A=1"], ["PATH=/bin", "A=2"]),
        "Cmd": (["sh"], ["top"]),
    }
    assert diff(two, two).files == ()


# ------------------------------------------------------------------------------------ CLI


def test_cli_summary_json_and_cached_second_look(tmp_path: Path, private_cache: Path) -> None:
    archive = tmp_path / "a.tar"
    docker_archive(archive, LAYERS)
    text = run_cli(private_cache, "analyze", f"docker-archive:{archive}", check=True).stdout
    assert "efficiency: 23.5115 %" in text
    assert "wastedBytes: 380091 bytes (380 kB)" in text
    assert "userWastedPercent: 111.2806 %" in text
    assert "300 kB  /big.dat" in text and "step 2" in text
    first = json.loads(
        run_cli(private_cache, "analyze", "--format", "json", f"docker-archive:{archive}").stdout
    )
    assert first["cached"] is True  # the text run above filled the cache
    assert first["inefficientBytes"] == 380091 and len(first["layers"]) == 3
    assert first["fileReference"][0] == {"count": 2, "sizeBytes": 300000, "file": "/big.dat"}


def test_cli_ci_rules_flags_and_dive_ci_file(tmp_path: Path, private_cache: Path) -> None:
    archive = tmp_path / "a.tar"
    docker_archive(archive, LAYERS)
    spec = f"docker-archive:{archive}"
    failed = run_cli(private_cache, "analyze", "--ci", spec, cwd=tmp_path)
    assert failed.returncode == 1
    assert "  FAIL: lowestEfficiency: image efficiency is too low" in failed.stdout
    assert "  SKIP: highestWastedBytes: rule disabled" in failed.stdout
    assert "Result:FAIL [Total:3] [Passed:0] [Failed:2] [Warn:0] [Skipped:1]" in failed.stdout
    passed = run_cli(
        private_cache,
        "analyze",
        "--ci",
        "--lowest-efficiency",
        "0.2",
        "--highest-user-wasted-percent",
        "1.2",
        "--highest-wasted-bytes",
        "1MB",
        spec,
        cwd=tmp_path,
    )
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "Result:PASS [Total:3] [Passed:3] [Failed:0]" in passed.stdout
    # dive's .dive-ci in the working folder; a flag still wins over it
    (tmp_path / ".dive-ci").write_text(
        "rules:\n  # as dive documents it\n  lowestEfficiency: 0.2\n"
        "  highestWastedBytes: '300KB'\n  highest-user-wasted-percent: disabled\n"
    )
    from_file = run_cli(private_cache, "analyze", "--ci", spec, cwd=tmp_path)
    assert from_file.returncode == 1
    assert (
        "FAIL: highestWastedBytes: too many bytes wasted (wasted-bytes=380091" in from_file.stdout
    )
    assert "PASS: lowestEfficiency" in from_file.stdout
    ok = run_cli(
        private_cache, "analyze", "--ci", "--highest-wasted-bytes", "disabled", spec, cwd=tmp_path
    )
    assert ok.returncode == 0
    other = tmp_path / "rules.yaml"
    other.write_text("rules:\n  lowestEfficiency: 0.99\n")
    strict = run_cli(
        private_cache, "analyze", "--ci", "--ci-config", str(other), "--format", "json", spec
    )
    assert strict.returncode == 1
    verdict = json.loads(strict.stdout)["ci"]
    assert verdict["pass"] is False
    assert {r["name"]: r["status"] for r in verdict["rules"]}["lowestEfficiency"] == "FAIL"


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["docker-archive:{tmp}/missing.tar"], 1, "missing.tar: no such file"),
        (["docker-archive:{tmp}/garbage.tar"], 1, "garbage.tar: not a tar archive"),
        (["docker-archive:{tmp}/badlayer.tar"], 1, "corrupt"),
        (["docker-archive:{tmp}"], 1, "is a directory"),
        (["oci:{tmp}/missing"], 1, "no such directory"),
        (["tarball-archive:{tmp}/x"], 2, "unknown transport"),
        (
            ["--ci", "--lowest-efficiency", "2", "docker-archive:{tmp}/a.tar"],
            2,
            "outside the allowed range",
        ),
        (
            ["--ci", "--highest-wasted-bytes", "lots", "docker-archive:{tmp}/a.tar"],
            2,
            "is not a size",
        ),
        (
            ["--ci", "--ci-config", "{tmp}/nope", "docker-archive:{tmp}/a.tar"],
            2,
            "no such CI config",
        ),
        (["--platform", "linux", "oci:{tmp}/layout"], 2, "is not os/arch"),
    ],
)
def test_cli_bad_input_is_one_line(
    tmp_path: Path, private_cache: Path, args, code, message
) -> None:
    docker_archive(tmp_path / "a.tar", LAYERS)
    oci_layout(tmp_path / "layout", LAYERS)
    (tmp_path / "garbage.tar").write_bytes(b"this is not a tar archive\n" * 40)
    # a docker archive whose first layer is gzip garbage
    with (
        tarfile.open(tmp_path / "a.tar") as src,
        tarfile.open(tmp_path / "badlayer.tar", "w") as out,
    ):
        for m in src:
            data = src.extractfile(m).read() if m.isfile() else None
            if m.name.endswith("layer.tar") and not out.getmembers():
                data = b"\x1f\x8b\x08\x00" + b"\xff" * 2000
                m.size = len(data)
            out.addfile(m, __import__("io").BytesIO(data) if data is not None else None)
    result = run_cli(private_cache, "analyze", *[a.format(tmp=tmp_path) for a in args])
    assert result.returncode == code, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_cli_diff(tmp_path: Path, private_cache: Path) -> None:
    docker_archive(tmp_path / "one.tar", LAYERS[:2])
    docker_archive(tmp_path / "two.tar", LAYERS, tag="t/two:1", extra={"Cmd": ["top"]})
    one, two = f"docker-archive:{tmp_path / 'one.tar'}", f"docker-archive:{tmp_path / 'two.tar'}"
    text = run_cli(private_cache, "diff", one, two, check=True).stdout
    assert "A  /opt/app/new.txt" in text and "D  /big.dat" in text
    assert "M  /bin/busybox  40 kB (content)" in text
    assert 'Cmd: ["sh"] -> ["top"]' in text
    data = json.loads(
        run_cli(private_cache, "diff", "--format", "json", one, two, check=True).stdout
    )
    changes = {f["path"]: f["change"] for f in data["files"]}
    assert changes["/opt/app/new.txt"] == "added" and changes["/big.dat"] == "removed"
    assert data["config"] == [{"key": "Cmd", "before": ["sh"], "after": ["top"]}]


def test_cache_is_best_effort(tmp_path: Path) -> None:
    """An unwritable cache costs time, never an answer."""
    docker_archive(tmp_path / "a.tar", LAYERS)
    blocker = tmp_path / "file-not-dir"
    blocker.write_text("x")
    a = analyze_transport(f"docker-archive:{tmp_path / 'a.tar'}", cache=Cache(blocker / "sub"))
    assert a.wasted_bytes == 380_091 and not a.cached


def test_platform_of_a_multi_arch_layout(tmp_path: Path, private_cache: Path) -> None:
    digests = oci_multiarch(tmp_path / "multi")
    spec = f"oci:{tmp_path / 'multi'}:multi"
    arm = analyze_transport(spec, platform="linux/arm64")
    amd = analyze_transport(spec, platform="linux/amd64")
    assert (arm.id, amd.id) == (digests["linux/arm64"], digests["linux/amd64"])
    assert len(arm.layers) == 3 and len(amd.layers) == 1
    bad = run_cli(private_cache, "analyze", "--platform", "linux/s390x", spec)
    assert bad.returncode == 1
    assert "no image for platform linux/s390x (it has linux/amd64, linux/arm64)" in bad.stderr
