"""`docker image inspect` made readable: config, env, labels, ports, digests, layers."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, ClassVar

from humanize import naturalsize, naturaltime
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Static

from imgtui.backends.base import HealthCheck, ImageDetail

Section = tuple[str, list[tuple[str, str]]]


def _argv(argv: Sequence[str] | None) -> str:
    """Exec form, as inspect prints it; empty when unset."""
    return "" if argv is None else json.dumps(list(argv))


def _seconds(ns: int) -> str:
    return f"{ns / 1e9:g}s" if ns else ""


def _healthcheck(h: HealthCheck | None) -> list[tuple[str, str]]:
    if h is None or not h.test:
        return []
    rows = [("Test", _argv(h.test))]
    rows += [
        (k, v)
        for k, v in (
            ("Interval", _seconds(h.interval_ns)),
            ("Timeout", _seconds(h.timeout_ns)),
            ("Start period", _seconds(h.start_period_ns)),
            ("Retries", str(h.retries) if h.retries else ""),
        )
        if v
    ]
    return rows


def sections(detail: ImageDetail, now: datetime) -> list[Section]:
    """The sections shown, as plain (key, value) pairs; empty values are left out."""
    c = detail.config
    platform = "/".join(p for p in (detail.os, detail.architecture, detail.variant) if p)
    image = [
        ("Id", detail.id),
        *(("Tag", t) for t in detail.repo_tags),
        *(("Digest", d) for d in detail.repo_digests),
        ("Created", f"{detail.created.isoformat()} ({naturaltime(detail.created, when=now)})"),
        ("Size", f"{naturalsize(detail.size)} ({detail.size:,} bytes)"),
        ("Platform", platform),
        ("Author", detail.author),
        ("Comment", detail.comment),
        ("Docker version", detail.docker_version),
        ("Parent", detail.parent_id),
    ]
    config = [
        ("Entrypoint", _argv(c.entrypoint)),
        ("Cmd", _argv(c.cmd)),
        ("Working dir", c.working_dir),
        ("User", c.user),
        ("Shell", _argv(c.shell)),
        ("Stop signal", c.stop_signal),
        *(("On build", o) for o in c.on_build),
        *((f"Healthcheck {k.lower()}", v) for k, v in _healthcheck(c.healthcheck)),
    ]
    env = [(k, v) for k, _, v in (e.partition("=") for e in c.env)]
    out: list[Section] = [
        ("Image", [(k, v) for k, v in image if v]),
        ("Config", [(k, v) for k, v in config if v]),
        ("Environment", env),
        ("Labels", sorted(c.labels.items())),
        ("Exposed ports", [(p, "") for p in c.exposed_ports]),
        ("Volumes", [(v, "") for v in c.volumes]),
        ("Layers", [(str(n), layer) for n, layer in enumerate(detail.layers, 1)]),
    ]
    return out


class InspectView(VerticalScroll):
    """Sections of key/value grids; values are Text, never markup."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "scroll_down", "Down", show=False),
        Binding("k", "scroll_up", "Up", show=False),
        Binding("g", "scroll_home", "Top", show=False),
        Binding("G", "scroll_end", "Bottom", show=False),
    ]

    DEFAULT_CSS = """
    InspectView > #inspect-body {
        padding: 0 1;
    }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sections: list[Section] = []

    def compose(self) -> ComposeResult:
        yield Static("", id="inspect-body")

    @property
    def plain(self) -> str:
        """The shown text without styles, one "key: value" per line."""
        lines = []
        for title, rows in self.sections:
            lines.append(title)
            lines.extend(f"  {k}: {v}" if v else f"  {k}" for k, v in rows)
        return "\n".join(lines)

    def show(self, detail: ImageDetail | None, now: datetime) -> None:
        """Show `detail`, or nothing when no image is selected."""
        self.sections = sections(detail, now) if detail is not None else []
        parts: list[RenderableType] = []
        for title, rows in self.sections:
            parts.append(Text(title, style="bold underline"))
            if not rows:
                parts.append(Text("  none", style="dim italic"))
            else:
                grid = Table.grid(padding=(0, 2), pad_edge=True)
                grid.add_column(style="dim", no_wrap=True)
                grid.add_column(overflow="fold")
                for key, value in rows:
                    grid.add_row(Text(key), Text(value))
                parts.append(grid)
            parts.append(Text(""))
        self.query_one("#inspect-body", Static).update(Group(*parts))
        self.scroll_home(animate=False)
