"""Stylesheets, located by absolute path so the tree and the wheel behave alike.

Beside this file in both (the package data is installed next to the module), so `__file__` finds
them without importlib.resources, whose zip support costs 5 ms at every start.
"""

from pathlib import Path

STYLESHEETS = [Path(__file__).with_name(n) for n in ("base.tcss", "main.tcss")]
