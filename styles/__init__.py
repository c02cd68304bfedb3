"""Stylesheets, located by absolute path so the tree and the wheel behave alike."""

from importlib.resources import files
from pathlib import Path

STYLESHEETS = [Path(str(files(__name__) / n)) for n in ("base.tcss", "main.tcss")]
