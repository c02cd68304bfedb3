"""README's two commands stay true: CI runs exactly the test command README gives newcomers."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _readme_block(title: str) -> str:
    text = (ROOT / "README.md").read_text()
    m = re.search(rf"<!-- {title} -->\s*```(?:sh|bash)?\n(.*?)\n```", text, re.S)
    assert m, f"README.md has no ```sh block after <!-- {title} -->"
    return m.group(1).strip()


def test_ci_runs_the_readme_test_command():
    command = _readme_block("test-command")
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert command in ci_lines


def test_readme_install_command_installs_and_runs_imgtui():
    command = _readme_block("install-command")
    assert "pip install" in command
    assert "imgtui" in command.split("&&")[-1]
