"""Entry point for `python -m imgtui`."""

from imgtui.cli import main

raise SystemExit(main())
