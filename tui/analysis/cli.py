"""`imgtui analyze` and `imgtui diff`: dive's summary and CI gate, and image-to-image diffs.

Imported while the CLI parser is built, so only the standard library is imported at the top:
the engine, and the backend (daemon or store) only for plain image names, come in when a verb
runs. Archives and layouts (`docker-archive:`, `oci-archive:`, `oci:`) need neither, and
`imgtui analyze|diff` builds no other verb's parser (`imgtui.cli.main`): what such a run holds is
the interpreter, argparse, json, hashlib and the analysis modules, so nothing here imports
pathlib or typing at run time either.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from dataclasses import dataclass

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at run time
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from pathlib import Path
    from typing import Any

    from imgtui.analysis.model import ImageAnalysis, ImageDiff

DEFAULT_CI_CONFIG = ".dive-ci"
# dive's defaults for its three rules
DEFAULT_RULES = {
    "lowestEfficiency": "0.9",
    "highestWastedBytes": "disabled",
    "highestUserWastedPercent": "0.1",
}
_RULE_ALIASES = {
    "lowestefficiency": "lowestEfficiency",
    "lowest-efficiency": "lowestEfficiency",
    "highestwastedbytes": "highestWastedBytes",
    "highest-wasted-bytes": "highestWastedBytes",
    "highestuserwastedpercent": "highestUserWastedPercent",
    "highest-user-wasted-percent": "highestUserWastedPercent",
}
WORST_FILES = 20  # rows of the inefficient-files table in the text summary


class CommandError(Exception):
    """A bad flag or input file; str() is the one line shown, exit_code 2 for bad usage."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


# --------------------------------------------------------------------------- parser entries


def add_verbs(verb: Callable[..., argparse.ArgumentParser]) -> None:
    """Add `analyze` and `diff` to imgtui's parser (`verb(name, fn, help)` as cli.py defines)."""
    p = verb("analyze", cmd_analyze, "Show why an image is as big as it is (dive's figures)")
    p.set_defaults(open_backend=False)  # archives need no backend; names open it themselves
    p.add_argument(
        "image",
        metavar="IMAGE",
        help="an image name or id, or docker-archive:PATH, oci-archive:PATH, oci:DIR[:TAG]",
    )
    p.add_argument("--ci", action="store_true", help="check dive's CI rules; exit 1 if one fails")
    p.add_argument("--lowest-efficiency", metavar="RATIO", help="CI: lowest efficiency (0-1)")
    p.add_argument(
        "--highest-wasted-bytes", metavar="BYTES", help="CI: most wasted bytes (e.g. 20MB)"
    )
    p.add_argument(
        "--highest-user-wasted-percent",
        metavar="RATIO",
        help="CI: most wasted bytes as a ratio (0-1) of the non-base layers",
    )
    p.add_argument(
        "--ci-config",
        metavar="PATH",
        help=f"CI rules file as dive reads it (default: {DEFAULT_CI_CONFIG} if present)",
    )
    p.add_argument("--platform", metavar="OS/ARCH[/VARIANT]", help="image of a multi-arch index")
    p.add_argument("--format", choices=("table", "json"), default="table", help="table or json")

    p = verb("diff", cmd_diff, "Show files and config that differ between two images")
    p.set_defaults(open_backend=False)
    p.add_argument("image1", metavar="IMAGE1")
    p.add_argument("image2", metavar="IMAGE2")
    p.add_argument("--platform", metavar="OS/ARCH[/VARIANT]", help="image of a multi-arch index")
    p.add_argument("--format", choices=("table", "json"), default="table", help="table or json")


# --------------------------------------------------------------------------- sizes


def human_bytes(n: float) -> str:
    """Sizes as dive prints them (decimal units: 380 kB, 1.2 MB)."""
    if n < 10:
        return f"{int(n)} B"
    units = ("B", "kB", "MB", "GB", "TB", "PB", "EB")
    e = min(math.floor(math.log(n, 1000)), len(units) - 1)
    val = math.floor(n / 1000**e * 10 + 0.5) / 10
    return f"{val:.1f} {units[e]}" if val < 10 else f"{val:.0f} {units[e]}"


_BYTES = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*([a-zA-Z]*)\s*$")
_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "m": 1000**2,
    "mb": 1000**2,
    "g": 1000**3,
    "gb": 1000**3,
    "t": 1000**4,
    "tb": 1000**4,
    "ki": 1024,
    "kib": 1024,
    "mi": 1024**2,
    "mib": 1024**2,
    "gi": 1024**3,
    "gib": 1024**3,
    "ti": 1024**4,
    "tib": 1024**4,
}


def parse_bytes(text: str) -> int:
    """ "20MB", "1.5GiB", "1000" as dive's highestWastedBytes takes them."""
    m = _BYTES.match(text)
    unit = m.group(2).lower() if m else None
    if m is None or unit not in _UNITS:
        raise ValueError(f"{text!r} is not a size (e.g. 20MB, 1.5GiB, 1000)")
    return int(float(m.group(1)) * _UNITS[unit])


# --------------------------------------------------------------------------- CI rules


@dataclass(frozen=True, slots=True)
class RuleResult:
    name: str
    status: str  # "PASS", "FAIL", "SKIP"
    message: str = ""


def read_ci_config(path: Path, *, required: bool) -> dict[str, str]:
    """The rules of a .dive-ci file: the tiny YAML subset dive's files use.

    A `rules:` mapping of `key: value` lines (camelCase or kebab-case keys, values optionally
    quoted, `#` comments); top-level `key: value` lines are taken too.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if required:
            raise CommandError(f"{path}: no such CI config file") from None
        return {}
    except (OSError, UnicodeDecodeError) as e:
        raise CommandError(f"{path}: cannot read the CI config ({e})") from None
    rules: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split(" #", 1)[0].rstrip()
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, sep, value = line.strip().partition(":")
        if not sep:
            raise CommandError(f"{path}:{number}: expected 'key: value', got {raw.strip()!r}")
        key = key.strip().strip("'\"")
        value = value.strip().strip("'\"")
        if key == "rules" and not value:
            continue
        name = _RULE_ALIASES.get(key.lower())
        if name is None:
            raise CommandError(f"{path}:{number}: unknown CI rule {key!r}")
        rules[name] = value
    return rules


def ci_rules(args: argparse.Namespace) -> dict[str, str]:
    """dive's defaults, then the config file, then flags: the last word wins."""
    from pathlib import Path  # only with --ci

    rules = dict(DEFAULT_RULES)
    if args.ci_config is not None:
        rules.update(read_ci_config(Path(args.ci_config), required=True))
    else:
        rules.update(read_ci_config(Path(DEFAULT_CI_CONFIG), required=False))
    for flag, name in (
        ("lowest_efficiency", "lowestEfficiency"),
        ("highest_wasted_bytes", "highestWastedBytes"),
        ("highest_user_wasted_percent", "highestUserWastedPercent"),
    ):
        value = getattr(args, flag)
        if value is not None:
            rules[name] = value
    _check_rules(rules)
    return rules


def _ratio(name: str, value: str) -> float:
    try:
        ratio = float(value)
    except ValueError:
        raise CommandError(f"{name}: {value!r} is not a number") from None
    if not 0 <= ratio <= 1 and name == "lowestEfficiency":
        raise CommandError(f"{name}: {value} is outside the allowed range 0-1")
    return ratio


def _check_rules(rules: dict[str, str]) -> None:
    for name, value in rules.items():
        if value == "disabled":
            continue
        if name == "highestWastedBytes":
            try:
                parse_bytes(value)
            except ValueError as e:
                raise CommandError(f"{name}: {e}") from None
        else:
            _ratio(name, value)


def evaluate(analysis: ImageAnalysis, rules: dict[str, str]) -> list[RuleResult]:
    """Each rule's verdict, sorted by name as dive prints them."""
    out = []
    for name in sorted(rules):
        value = rules[name]
        if value == "disabled":
            out.append(RuleResult(name, "SKIP", "rule disabled"))
            continue
        if name == "lowestEfficiency":
            limit = _ratio(name, value)
            ok = analysis.efficiency >= limit
            msg = (
                "image efficiency is too low "
                f"(efficiency={analysis.efficiency} < threshold={value})"
            )
        elif name == "highestWastedBytes":
            limit_b = parse_bytes(value)
            ok = analysis.wasted_bytes <= limit_b
            msg = (
                f"too many bytes wasted (wasted-bytes={analysis.wasted_bytes} > threshold={value})"
            )
        else:
            limit = _ratio(name, value)
            ok = analysis.user_wasted_percent <= limit
            msg = (
                "too many bytes wasted, relative to the user bytes added "
                f"(%-user-wasted-bytes={analysis.user_wasted_percent} > threshold={value})"
            )
        out.append(RuleResult(name, "PASS" if ok else "FAIL", "" if ok else msg))
    return out


# --------------------------------------------------------------------------- running


def _error(message: str) -> None:
    print(f"Error: {message}", file=sys.stderr)


def _analyze(
    args: argparse.Namespace, image: str, *, trees: bool, backend_box: list[Any]
) -> ImageAnalysis:
    """One image's analysis from an archive/layout, or through the backend for a name."""
    from imgtui.analysis import sources
    from imgtui.analysis.api import analyze_transport

    if args.platform is not None:
        try:
            sources.parse_platform(args.platform)
        except ValueError as e:
            raise CommandError(f"--platform: {e}") from None

    if sources.split_transport(image) is not None:
        return analyze_transport(image, platform=args.platform, trees=trees)
    if sources.looks_like_transport(image):
        raise CommandError(
            f"{image.partition(':')[0]}: unknown transport "
            "(use docker-archive:PATH, oci-archive:PATH or oci:DIR[:TAG])"
        )
    if not backend_box:
        from imgtui.cli import open_backend

        backend_box.append(open_backend(args))
    return backend_box[0].analyze(image, platform=args.platform, trees=trees)  # type: ignore[no-any-return]


def _guarded(run: Callable[[list[Any]], int]) -> int:
    """Run a verb: analysis and input errors become one line and an exit code."""
    from imgtui.analysis.engine import AnalysisError

    box: list[Any] = []
    try:
        return run(box)
    except CommandError as e:
        _error(str(e))
        return e.exit_code
    except AnalysisError as e:
        _error(str(e))
        return 1
    except Exception as e:
        # only a backend raises its errors, and then imgtui.backends.base is loaded; archives
        # never load it
        base = sys.modules.get("imgtui.backends.base")
        if base is None or not isinstance(e, base.BackendError):
            raise
        _error(str(e))
        return int(e.exit_code)
    finally:
        if box:
            box[0].close()


def cmd_analyze(backend: Any, args: argparse.Namespace) -> int:
    def run(box: list[Any]) -> int:
        rules = ci_rules(args) if args.ci else None
        analysis = _analyze(args, args.image, trees=False, backend_box=box)
        results = evaluate(analysis, rules) if rules is not None else None
        if args.format == "json":
            _print_json(analysis_json(analysis, results))
        else:
            print_summary(analysis, results)
        if results is not None and any(r.status == "FAIL" for r in results):
            return 1
        return 0

    return _guarded(run)


def cmd_diff(backend: Any, args: argparse.Namespace) -> int:
    def run(box: list[Any]) -> int:
        from imgtui.analysis.api import diff

        one = _analyze(args, args.image1, trees=True, backend_box=box)
        two = _analyze(args, args.image2, trees=True, backend_box=box)
        result = diff(one, two)
        if args.format == "json":
            _print_json(diff_json(result))
        else:
            print_diff(result)
        return 0

    return _guarded(run)


# --------------------------------------------------------------------------- output


def _print_json(obj: Any) -> None:
    """json.dumps(obj, indent=2) written a few thousand pieces at a time: with indent, dumps
    collects every piece before joining them (MiBs for an image with thousands of wasteful
    files); written one by one they cost twice the time."""
    write = sys.stdout.write
    batch: list[str] = []
    for chunk in json.JSONEncoder(ensure_ascii=False, indent=2).iterencode(obj):
        batch.append(chunk)
        if len(batch) >= 4096:
            write("".join(batch))
            batch.clear()
    batch.append("\n")
    write("".join(batch))


def _command(text: str) -> str:
    """A history step as dive shows it: without the shell prefix docker records."""
    text = " ".join(text.split())
    for prefix in ("/bin/sh -c #(nop) ", "/bin/sh -c "):
        if text.startswith(prefix):
            return text[len(prefix) :]
    return text


def analysis_json(a: ImageAnalysis, results: Sequence[RuleResult] | None) -> dict[str, Any]:
    """The analysis as JSON: dive's image keys (sizeBytes, inefficientBytes, …) plus layers."""
    out: dict[str, Any] = {
        "image": a.image,
        "id": a.id,
        "sizeBytes": a.size,
        "userSizeBytes": a.user_size,
        "inefficientBytes": a.wasted_bytes,
        "userWastedPercent": a.user_wasted_percent,
        "efficiencyScore": a.efficiency,
        "layers": [
            {
                "index": layer.index,
                "diffId": layer.diff_id,
                "sizeBytes": layer.size,
                "command": layer.command,
                "entries": layer.entries,
                "added": layer.added,
                "modified": layer.modified,
                "removed": layer.removed,
            }
            for layer in a.layers
        ],
        "fileReference": [
            {"count": f.count, "sizeBytes": f.wasted, "file": f.path} for f in a.inefficient
        ],
        "cached": a.cached,
    }
    if results is not None:
        out["ci"] = {
            "pass": not any(r.status == "FAIL" for r in results),
            "rules": [{"name": r.name, "status": r.status, "message": r.message} for r in results],
        }
    return out


def print_summary(a: ImageAnalysis, results: Sequence[RuleResult] | None) -> None:
    w = sys.stdout.write
    w(f"Image: {a.image} ({a.id})\n")
    w(f"  efficiency: {a.efficiency * 100:.4f} %\n")
    wasted = f" ({human_bytes(a.wasted_bytes)})" if a.wasted_bytes else ""
    w(f"  wastedBytes: {a.wasted_bytes} bytes{wasted}\n")
    w(f"  userWastedPercent: {a.user_wasted_percent * 100:.4f} %\n")
    w(f"  size: {human_bytes(a.size)}, of which user layers {human_bytes(a.user_size)}\n")
    w("\nLayers:\n")
    w(f"  {'#':>3}  {'Size':>9}  {'Added':>6}  {'Changed':>7}  {'Removed':>7}  Command\n")
    for layer in a.layers:
        command = _command(layer.command) or "(missing)"
        if len(command) > 100:
            command = command[:99] + "…"
        w(
            f"  {layer.index:>3}  {human_bytes(layer.size):>9}  {layer.added:>6}  "
            f"{layer.modified:>7}  {layer.removed:>7}  {command}\n"
        )
    if a.inefficient:
        w("\nInefficient Files:\n")
        w(f"{'Count':>5}  {'Wasted Space':>12}  File Path\n")
        for f in a.inefficient[:WORST_FILES]:
            w(f"{f.count:>5}  {human_bytes(f.wasted):>12}  {f.path}\n")
        if len(a.inefficient) > WORST_FILES:
            w(f"  … and {len(a.inefficient) - WORST_FILES} more (--format json lists all)\n")
    else:
        w("\nInefficient Files: (None)\n")
    if results is None:
        return
    w("\nResults:\n")
    for r in results:
        w(f"  {r.status}: {r.name}" + (f": {r.message}" if r.message else "") + "\n")
    passed = sum(r.status == "PASS" for r in results)
    failed = sum(r.status == "FAIL" for r in results)
    skipped = sum(r.status == "SKIP" for r in results)
    verdict = "FAIL" if failed else "PASS"
    w(
        f"Result:{verdict} [Total:{len(results)}] [Passed:{passed}] [Failed:{failed}] "
        f"[Warn:0] [Skipped:{skipped}]\n"
    )


def _node_json(n: Any) -> dict[str, Any] | None:
    if n is None:
        return None
    return {
        "kind": n.kind,
        "mode": f"{n.mode:04o}",
        "uid": n.uid,
        "gid": n.gid,
        "size": n.size,
        "link": n.link,
        "digest": n.digest,
    }


def diff_json(d: ImageDiff) -> dict[str, Any]:
    return {
        "image1": {"name": d.image1, "id": d.id1, "sizeBytes": d.size1},
        "image2": {"name": d.image2, "id": d.id2, "sizeBytes": d.size2},
        "files": [
            {
                "path": c.path,
                "change": c.change,
                "what": list(c.what),
                "before": _node_json(c.before),
                "after": _node_json(c.after),
            }
            for c in d.files
        ],
        "config": [{"key": c.key, "before": c.before, "after": c.after} for c in d.config],
    }


def print_diff(d: ImageDiff) -> None:
    w = sys.stdout.write
    w(f"--- {d.image1} ({d.id1})\n+++ {d.image2} ({d.id2})\n")
    added = [c for c in d.files if c.change == "added"]
    removed = [c for c in d.files if c.change == "removed"]
    changed = [c for c in d.files if c.change == "changed"]
    w(
        f"Files: {len(added)} added, {len(removed)} removed, {len(changed)} changed; "
        f"size {human_bytes(d.size1)} -> {human_bytes(d.size2)}\n"
    )
    for c in d.files:
        mark = {"added": "A", "removed": "D", "changed": "M"}[c.change]
        n = c.after or c.before
        assert n is not None
        extra = f" ({', '.join(c.what)})" if c.what else ""
        size = human_bytes(n.size) if n.kind == "file" else n.kind
        w(f"{mark}  {c.path}  {size}{extra}\n")
    if d.config:
        w("Config:\n")
        for cc in d.config:
            w(f"  {cc.key}: {json.dumps(cc.before)} -> {json.dumps(cc.after)}\n")
    else:
        w("Config: no differences\n")
