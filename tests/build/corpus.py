"""The differential corpus: cases in tests/build/corpus/NN-name/, loaded and made into contexts.

Each case folder holds a Dockerfile, its context files, an optional .dockerignore and case.toml:
`description`, optional `build_args`, `target`, and for cases that must fail `error` (this
parser's whole message), `engine_error` (a piece of the classic builder's output) and, where
the engine's BuildKit words it differently, `buildkit_error` (or `buildkit_builds = true`).
What git cannot hold (empty directories, hardlinks, modes, tar files) is made by the `[setup]`
table when the case is materialized into a temporary context: `mkdir`, `hardlink` ([source,
new]), `chmod` (octal strings) and `tar` (archive name → folder to pack; `.gz` compresses).
"""

from __future__ import annotations

import gzip
import io
import os
import shutil
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomllib

CORPUS = Path(__file__).resolve().parent / "corpus"


@dataclass(frozen=True)
class Case:
    name: str
    path: Path
    description: str
    build_args: dict[str, str] = field(default_factory=dict)
    target: str | None = None
    error: str | None = None
    engine_error: str | None = None
    buildkit_error: str | None = None  # None: the same as engine_error
    buildkit_builds: bool = False
    setup: dict[str, Any] = field(default_factory=dict)

    @property
    def invalid(self) -> bool:
        return self.error is not None


def load_cases() -> list[Case]:
    cases = []
    for folder in sorted(CORPUS.iterdir()):
        meta = tomllib.loads((folder / "case.toml").read_text())
        cases.append(
            Case(
                name=folder.name,
                path=folder,
                description=meta["description"],
                build_args=dict(meta.get("build_args", {})),
                target=meta.get("target"),
                error=meta.get("error"),
                engine_error=meta.get("engine_error"),
                buildkit_error=meta.get("buildkit_error"),
                buildkit_builds=bool(meta.get("buildkit_builds", False)),
                setup=dict(meta.get("setup", {})),
            )
        )
    return cases


def _tar_folder(src: Path, dest: Path) -> None:
    """A reproducible tar of `src`'s contents (sorted, root-owned, mtime 0)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(src.rglob("*")):
            info = tar.gettarinfo(str(path), arcname=str(path.relative_to(src)))
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            info.mtime = 0
            if info.isreg():
                with path.open("rb") as f:
                    tar.addfile(info, f)
            else:
                tar.addfile(info)
    data = buf.getvalue()
    if dest.name.endswith(".gz"):
        data = gzip.compress(data, mtime=0)
    dest.write_bytes(data)


def materialize(case: Case, dest: Path) -> Path:
    """Copy the case into `dest` (without case.toml) and apply its [setup]; returns `dest`."""
    shutil.copytree(case.path, dest, symlinks=True, ignore=shutil.ignore_patterns("case.toml"))
    setup = case.setup
    for rel in setup.get("mkdir", []):
        (dest / rel).mkdir(parents=True, exist_ok=True)
    for source, new in setup.get("hardlink", []):
        (dest / new).parent.mkdir(parents=True, exist_ok=True)
        os.link(dest / source, dest / new)
    for archive, folder in setup.get("tar", {}).items():
        _tar_folder(dest / folder, dest / archive)
    for rel, mode in setup.get("chmod", {}).items():
        os.chmod(dest / rel, int(mode, 8))
    return dest
