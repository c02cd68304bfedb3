"""Conversions both backends share: docker's config JSON to ImageConfig, `until` values."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from imgtui.backends.base import HealthCheck, ImageConfig, InvalidArgument


def strings(value: Any) -> tuple[str, ...] | None:
    """Cmd/Entrypoint/Shell as docker stores them: a list, a bare string, or null."""
    if value is None:
        return None
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value)


def image_config(c: dict[str, Any] | None) -> ImageConfig:
    """The `Config` object of `docker image inspect` (or an OCI config's `config`), typed."""
    c = c or {}
    hc = c.get("Healthcheck")
    return ImageConfig(
        user=c.get("User") or "",
        env=tuple(c.get("Env") or ()),
        entrypoint=strings(c.get("Entrypoint")),
        cmd=strings(c.get("Cmd")),
        working_dir=c.get("WorkingDir") or "",
        labels=dict(c.get("Labels") or {}),
        exposed_ports=tuple(sorted((c.get("ExposedPorts") or {}).keys())),
        volumes=tuple(sorted((c.get("Volumes") or {}).keys())),
        stop_signal=c.get("StopSignal") or "",
        shell=strings(c.get("Shell")),
        on_build=tuple(c.get("OnBuild") or ()),
        healthcheck=HealthCheck(
            test=tuple(hc.get("Test") or ()),
            interval_ns=int(hc.get("Interval") or 0),
            timeout_ns=int(hc.get("Timeout") or 0),
            start_period_ns=int(hc.get("StartPeriod") or 0),
            retries=int(hc.get("Retries") or 0),
        )
        if isinstance(hc, dict) and hc
        else None,
    )


def parse_until(value: str | None) -> datetime | None:
    """An `until` filter value as docker reads it, or InvalidArgument saying what is wrong."""
    if not value:
        return None
    from imgtui import fmt

    try:
        return fmt.parse_timestamp(value, datetime.now(timezone.utc))
    except ValueError:
        raise InvalidArgument(
            f"invalid filter 'until={value}': expected a duration (24h, 90m), "
            "a unix timestamp or an RFC 3339 date"
        ) from None
