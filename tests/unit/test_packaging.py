"""Packaging facts that an editable install would hide until a wheel is built."""

import subprocess
import sys
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[2]


def _config() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_every_package_folder_is_listed():
    setup = _config()["tool"]["setuptools"]
    roots = setup["package-dir"]
    listed = set(setup["packages"])
    found = set()
    for name, folder in roots.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder)
            found.add(".".join([name, *rel.parts]) if rel.parts else name)
    # A sub-package of imgtui whose folder has its own mapping belongs to that mapping.
    assert found == listed, f"unlisted: {found - listed}; listed but missing: {listed - found}"


def test_cli_never_imports_textual():
    code = (
        "import sys, imgtui.cli, imgtui.render, imgtui.backends.docker_sdk;"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('textual', 'humanize', 'docker')];"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_version_flag():
    out = subprocess.run(
        [sys.executable, "-m", "imgtui", "--version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.startswith("imgtui version ")
