"""The docker-style command line: `imgtui VERB …` with docker's flags, columns and wording.

Exit codes: 0 success, 1 the operation failed, 2 bad usage. Never imports textual (the TUI is loaded
only when `imgtui` runs without a verb), and imports the docker SDK only for calls that need it, so
scripted use starts fast.

`imgtui analyze` and `imgtui diff` take a lean path (`main`): a parser with only those verbs and,
for archives and layouts, no backend module at all, so analysing a big image costs little more
memory than the interpreter. That is why this module imports only the standard library modules
every verb needs at the top, and the backend contract inside the functions that use it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from imgtui import __version__

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at run time
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence
    from datetime import datetime
    from pathlib import Path
    from typing import Any, NoReturn, TextIO

    from imgtui.backends.base import Backend, ImageFilter, LayerProgress, ProgressEvent

BACKENDS = ("auto", "docker", "builtin")
STORE_ENV = "IMGTUI_STORE"
PROBE_TIMEOUT = 1.0  # seconds auto waits for a local daemon before using the store


class UsageError(Exception):
    """Bad flags or arguments: exit 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}")


# ---------------------------------------------------------------------- output helpers


def _out(text: str) -> None:
    sys.stdout.write(text if text.endswith("\n") or not text else text + "\n")


def _json_lines(objects: Iterable[dict[str, Any]]) -> None:
    for obj in objects:
        sys.stdout.write(json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n")


def _now() -> datetime:
    from datetime import datetime, timezone

    return datetime.now(timezone.utc)


def _confirm(question: str, stream: TextIO | None = None) -> bool:
    """docker's `[y/N]` prompt; with no terminal to answer, the answer is no."""
    sys.stdout.write(f"{question} [y/N] ")
    sys.stdout.flush()
    line = (stream or sys.stdin).readline()
    return line.strip().lower() in ("y", "yes")


class ProgressPrinter:
    """Prints pull/push progress like the docker CLI: one line per layer, redrawn on a terminal."""

    def __init__(self, out: TextIO, quiet: bool = False) -> None:
        self.out = out
        self.quiet = quiet
        self.tty = out.isatty()
        self.order: list[str] = []
        self.lines: dict[str, str] = {}
        self.last_status: dict[str, str] = {}

    def __call__(self, event: ProgressEvent) -> None:
        from imgtui.backends.base import LayerProgress, StatusLine

        if self.quiet:
            return
        if isinstance(event, LayerProgress):
            self._layer(event)
        elif isinstance(event, StatusLine) and event.text:
            self.out.write(event.text + "\n")
            if self.tty:
                self.order.clear()
                self.lines.clear()

    def _layer(self, e: LayerProgress) -> None:
        text = f"{e.layer}: {e.status}"
        if e.current is not None and e.total:
            text += " " + _bar(e.current, e.total)
            if e.rate is not None and e.current < e.total:
                from imgtui import fmt

                text += f"  {fmt.human_rate(e.rate)}"
        if not self.tty:
            # A pipe gets each status change once, without the byte counts.
            if self.last_status.get(e.layer) != e.status:
                self.last_status[e.layer] = e.status
                self.out.write(f"{e.layer}: {e.status}\n")
            return
        if e.layer not in self.lines:
            self.order.append(e.layer)
            self.lines[e.layer] = text
            self.out.write(text + "\n")
        else:
            self.lines[e.layer] = text
            up = len(self.order) - self.order.index(e.layer)
            self.out.write(f"\x1b[{up}A\r\x1b[2K{text}\x1b[{up}B\r")
        self.out.flush()


def _bar(current: int, total: int, width: int = 50) -> str:
    from imgtui import fmt

    filled = min(width, max(0, int(width * current / total)))
    arrow = ">" if filled < width else ""
    bar = "=" * max(0, filled - len(arrow)) + arrow + " " * (width - filled)
    return f"[{bar}]  {fmt.human_size(current)}/{fmt.human_size(total)}"


# ---------------------------------------------------------------------- backend selection


def default_store() -> Path:
    """IMGTUI_STORE, else the platform's data folder (~/.local/share/imgtui/store on Linux)."""
    from pathlib import Path

    if os.environ.get(STORE_ENV):
        return Path(os.environ[STORE_ENV]).expanduser()
    from platformdirs import user_data_path

    return user_data_path("imgtui") / "store"


def choose_backend(args: argparse.Namespace) -> str:
    """`auto`: Docker when the user pointed at a daemon or the local one answers, else the store."""
    if args.backend != "auto":
        return str(args.backend)
    if args.store:
        return "builtin"
    from imgtui.backends import docker_endpoint

    if args.host or args.context or docker_endpoint.current_context_name() != "default":
        return "docker"
    if os.environ.get("DOCKER_HOST"):
        return "docker"
    from imgtui.backends.docker_http import LeanDockerClient

    try:
        LeanDockerClient(docker_endpoint.DEFAULT_HOST, PROBE_TIMEOUT).get_json("/_ping")
    except Exception:
        return "builtin"
    return "docker"


def open_backend(args: argparse.Namespace) -> Backend:
    """The backend the global flags ask for (see choose_backend)."""
    kind = choose_backend(args)
    if kind == "builtin":
        from pathlib import Path

        from imgtui.backends.builtin import BuiltinBackend

        store = Path(args.store).expanduser() if args.store else default_store()
        if args.backend == "auto" and not args.store and sys.stderr.isatty():
            print(
                f"imgtui: no Docker daemon answered; using the built-in store at {store}",
                file=sys.stderr,
            )
        return BuiltinBackend(store)
    if args.store:
        raise UsageError("--store applies to the built-in store; drop it or use --backend builtin")
    from imgtui.backends.docker_sdk import DockerBackend

    return DockerBackend(host=args.host, context=args.context)


# ---------------------------------------------------------------------- verbs


def cmd_images(backend: Backend, args: argparse.Namespace) -> int:
    from imgtui import render
    from imgtui.backends.base import ImageFilter

    f = _image_filter(args.filter)
    if args.reference:
        f = ImageFilter(
            dangling=f.dangling,
            labels=f.labels,
            references=(*f.references, args.reference),
            before=f.before,
            since=f.since,
            until=f.until,
        )
    images = backend.images(all=args.all, filters=f)
    images.sort(key=lambda i: i.created, reverse=True)
    rows = render.image_rows(images, digests=args.digests)
    now = _now()
    if args.quiet:
        for r in rows:
            _out(r.image.id if args.no_trunc else r.image.short_id)
    elif args.format == "json":
        _json_lines(render.image_json(r, now, no_trunc=args.no_trunc) for r in rows)
    else:
        _out(render.images_table(rows, now, digests=args.digests, no_trunc=args.no_trunc))
    return 0


def _image_filter(values: Sequence[str]) -> ImageFilter:
    from imgtui.backends.base import ImageFilter

    dangling: bool | None = None
    labels: list[str] = []
    refs: list[str] = []
    times: dict[str, str] = {}
    for raw in values:
        key, sep, value = raw.partition("=")
        if not sep:
            raise UsageError(f"bad format of filter (expected name=value): {raw!r}")
        key = key.strip().lower()
        if key == "dangling":
            if value.lower() not in ("true", "false", "1", "0"):
                raise UsageError(f"invalid filter 'dangling={value}'")
            dangling = value.lower() in ("true", "1")
        elif key == "label":
            labels.append(value)
        elif key == "reference":
            refs.append(value)
        elif key in ("before", "since", "until"):
            times[key] = value
        else:
            raise UsageError(f"invalid filter '{key}'")
    return ImageFilter(
        dangling=dangling,
        labels=tuple(labels),
        references=tuple(refs),
        before=times.get("before"),
        since=times.get("since"),
        until=times.get("until"),
    )


def cmd_history(backend: Backend, args: argparse.Namespace) -> int:
    from imgtui import render

    entries = backend.history(args.image)
    now = _now()
    if args.quiet:
        for e in entries:
            _out(
                e.id if args.no_trunc or e.id == "<missing>" else e.id.removeprefix("sha256:")[:12]
            )
    elif args.format == "json":
        _json_lines(
            render.history_json(e, now, no_trunc=args.no_trunc, human=args.human) for e in entries
        )
    else:
        _out(render.history_table(entries, now, no_trunc=args.no_trunc, human=args.human))
    return 0


def cmd_inspect(backend: Backend, args: argparse.Namespace) -> int:
    from imgtui.backends.base import BackendError

    found, errors = [], []
    for ref in args.images:
        try:
            found.append(dict(backend.inspect(ref).raw))
        except BackendError as e:
            errors.append(str(e))
    _out(json.dumps(found, indent=4, ensure_ascii=False))
    for e in errors:
        print(f"Error: {e}", file=sys.stderr)
    return 1 if errors else 0


def cmd_dockerfile(backend: Backend, args: argparse.Namespace) -> int:
    from imgtui.analysis import dockerfile

    original = backend.original_dockerfile(args.image)
    if original is not None:
        _out(original)
        return 0
    detail = backend.inspect(args.image)
    history = backend.history(args.image)
    _out(dockerfile.reconstruct(history, detail.config))
    return 0


def cmd_tag(backend: Backend, args: argparse.Namespace) -> int:
    backend.tag(args.source, args.target)
    return 0


def cmd_rmi(backend: Backend, args: argparse.Namespace) -> int:
    from imgtui.backends.base import BackendError

    status = 0
    for ref in args.images:
        try:
            result = backend.remove(ref, force=args.force, no_prune=args.no_prune)
        except BackendError as e:
            print(f"Error: {e}", file=sys.stderr)
            status = 1
            continue
        for line in result.lines:
            _out(line)
    return status


def cmd_prune(backend: Backend, args: argparse.Namespace) -> int:
    from imgtui import render

    until = None
    for raw in args.filter:
        key, _, value = raw.partition("=")
        if key != "until" or not value:
            raise UsageError(f"invalid filter {raw!r} (image prune takes until=DURATION|TIMESTAMP)")
        until = value
    if not args.force:
        what = (
            "all images without at least one container associated to them"
            if args.all
            else "all dangling images"
        )
        if not _confirm(f"WARNING! This will remove {what}.\nAre you sure you want to continue?"):
            return 0
    report = backend.prune_images(all=args.all, until=until)
    if args.format == "json":
        _json_lines([render.prune_json(report)])
    else:
        _out("\n".join(render.prune_lines(report)))
    return 0


def cmd_system_prune(backend: Backend, args: argparse.Namespace) -> int:
    from imgtui import render

    if not args.force:
        items = ["all stopped containers", "all networks not used by at least one container"]
        if args.volumes:
            items.append("all anonymous volumes not used by at least one container")
        if args.all:
            items += [
                "all images without at least one container associated to them",
                "all build cache",
            ]
        else:
            items += ["all dangling images", "unused build cache"]
        text = "WARNING! This will remove:\n" + "".join(f"  - {i}\n" for i in items)
        if not _confirm(text + "\nAre you sure you want to continue?"):
            return 0
    report = backend.system_prune(all=args.all, volumes=args.volumes)
    if args.format == "json":
        _json_lines([render.prune_json(report)])
    else:
        _out("\n".join(render.prune_lines(report)))
    return 0


def cmd_builder_prune(backend: Backend, args: argparse.Namespace) -> int:
    from imgtui import render

    if not args.force:
        what = "all build cache" if args.all else "all dangling build cache"
        if not _confirm(f"WARNING! This will remove {what}.\nAre you sure you want to continue?"):
            return 0
    report = backend.prune_build_cache(all=args.all)
    _out("\n".join(render.prune_lines(report)))
    return 0


def cmd_df(backend: Backend, args: argparse.Namespace) -> int:
    from imgtui import render

    du = backend.disk_usage()
    now = _now()
    if args.format == "json":
        if args.verbose:
            _out(json.dumps({"Images": render.image_usage_json(du, now)}, indent=2))
        else:
            _json_lines(render.df_rows(du))
    elif args.verbose:
        _out(render.df_verbose(du, now))
    else:
        _out(render.df_table(du))
    return 0


def cmd_ps(backend: Backend, args: argparse.Namespace) -> int:
    from imgtui import render

    containers = backend.containers(all=args.all)
    now = _now()
    if args.quiet:
        for c in containers:
            _out(c.id if args.no_trunc else c.id[:12])
    elif args.format == "json":
        _json_lines(render.ps_json(c, now) for c in containers)
    else:
        _out(render.ps_table(containers, now, no_trunc=args.no_trunc))
    return 0


def cmd_pull(backend: Backend, args: argparse.Namespace) -> int:
    from imgtui.backends.base import StatusLine

    printer = ProgressPrinter(sys.stdout, quiet=args.quiet)
    last = ""
    for event in backend.pull(args.name, platform=args.platform):
        printer(event)
        if isinstance(event, StatusLine):
            last = event.text
    if args.quiet and last:
        _out(last)
    return 0


def cmd_push(backend: Backend, args: argparse.Namespace) -> int:
    printer = ProgressPrinter(sys.stdout, quiet=args.quiet)
    for event in backend.push(args.name):
        printer(event)
    return 0


def cmd_build(backend: Backend, args: argparse.Namespace) -> int:
    from pathlib import Path

    from imgtui.backends.base import BackendError, BuildLog, BuildOptions, BuildResult, BuildStep

    build_args: dict[str, str] = {}
    for raw in args.build_arg:
        key, sep, value = raw.partition("=")
        if not sep:  # docker takes the value from the environment, as here
            if key not in os.environ:
                continue
            value = os.environ[key]
        build_args[key] = value
    labels = {}
    for raw in args.label:
        key, _, value = raw.partition("=")
        labels[key] = value
    options = BuildOptions(
        context=Path(args.path),
        dockerfile=args.file,
        tags=tuple(args.tag),
        build_args=build_args,
        target=args.target,
        no_cache=args.no_cache,
        pull=args.pull,
        network_mode=args.network,
        labels=labels,
        platform=args.platform,
    )
    result: BuildResult | None = None
    for event in backend.build(options):
        if isinstance(event, BuildResult):
            result = event
        elif args.quiet:
            continue
        elif isinstance(event, BuildStep):
            _out(f"Step {event.index}/{event.total} : {event.instruction}")
        elif isinstance(event, BuildLog):
            sys.stdout.write(event.text)
            sys.stdout.flush()
    if result is None:
        raise BackendError("build finished without an image")
    if args.quiet:
        _out(result.image_id)
    return 0


def cmd_run(backend: Backend, args: argparse.Namespace) -> int:
    """docker run: the command's exit code becomes ours, as with docker."""
    interactive = args.interactive or args.tty
    stream = None if interactive or backend.name == "builtin" else _write_bytes
    _, code = backend.run_container(
        args.image,
        args.command,
        name=args.name,
        tty=interactive,
        network=args.network,
        remove=args.rm,
        output=stream,
    )
    return int(code)


def _write_bytes(chunk: bytes) -> None:
    sys.stdout.buffer.write(chunk)
    sys.stdout.flush()


def cmd_rm(backend: Backend, args: argparse.Namespace) -> int:
    from imgtui.backends.base import BackendError

    failed = 0
    for key in args.containers:
        try:
            backend.remove_container(key, force=args.force)
        except BackendError as e:
            print(f"Error response from daemon: {e}", file=sys.stderr)
            failed = 1
            continue
        _out(key)
    return failed


def cmd_commit(backend: Backend, args: argparse.Namespace) -> int:
    image_id = backend.commit(
        args.container,
        args.repository,
        message=args.message or "",
        author=args.author or "",
        changes=args.change,
        pause=args.pause,
    )
    _out(image_id)
    return 0


def cmd_save(backend: Backend, args: argparse.Namespace) -> int:
    import shutil
    import tempfile
    from pathlib import Path

    if args.output:
        for _ in backend.save(args.images, Path(args.output)):
            pass
        return 0
    if sys.stdout.isatty():
        raise UsageError("cowardly refusing to save to a terminal. Use the -o flag or redirect")
    with tempfile.TemporaryDirectory(prefix="imgtui-save-") as tmp:
        dest = Path(tmp) / "images.tar"
        for _ in backend.save(args.images, dest):
            pass
        with dest.open("rb") as src:
            shutil.copyfileobj(src, sys.stdout.buffer, 1 << 20)
    return 0


def cmd_load(backend: Backend, args: argparse.Namespace) -> int:
    import shutil
    import tempfile
    from pathlib import Path

    from imgtui.backends.base import StatusLine

    def run(path: Path) -> int:
        for event in backend.load(path):
            if isinstance(event, StatusLine) and not args.quiet:
                _out(event.text)
        return 0

    if args.input:
        return run(Path(args.input))
    if sys.stdin.isatty():
        raise UsageError(
            "requested load from stdin, but stdin is empty; use -i FILE or pipe an archive"
        )
    with tempfile.TemporaryDirectory(prefix="imgtui-load-") as tmp:
        path = Path(tmp) / "input.tar"
        with path.open("wb") as out:
            shutil.copyfileobj(sys.stdin.buffer, out, 1 << 20)
        return run(path)


def cmd_info(backend: Backend, args: argparse.Namespace) -> int:
    info = backend.info()
    images = backend.images(all=True)
    if args.format == "json":
        _json_lines(
            [
                {
                    "Backend": info.name,
                    "Location": info.location,
                    "Version": info.version,
                    "Context": info.context,
                    "Images": len(images),
                }
            ]
        )
        return 0
    _out(f"Backend:   {info.name}")
    _out(f"Location:  {info.location}")
    if info.context:
        _out(f"Context:   {info.context}")
    if info.version:
        _out(f"Version:   {info.version}")
    _out(f"Images:    {len(images)}")
    return 0


def cmd_fsck(backend: Backend, args: argparse.Namespace) -> int:
    from imgtui.backends.builtin import BuiltinBackend
    from imgtui.store import gc

    if not isinstance(backend, BuiltinBackend):
        raise UsageError("fsck checks the built-in store: use --backend builtin [--store DIR]")
    report = gc.fsck(backend.store, repair=args.repair)
    for digest in report.missing:
        _out(f"missing: {digest}")
    for digest in report.corrupt:
        _out(f"corrupt: {digest}")
    for problem in report.problems:
        _out(f"problem: {problem}")
    repaired = report.repaired
    if repaired is not None:
        if repaired.removed or repaired.temp_files_removed:
            _out(
                f"removed: {len(repaired.removed)} unreferenced blobs and "
                f"{repaired.temp_files_removed} temporary files"
            )
        if repaired.deferred:
            _out(
                f"kept for now: {len(repaired.deferred)} unreferenced blobs (a load is in "
                "flight or the store has problems; run fsck --repair again)"
            )
    else:
        if report.orphans:
            _out(
                f"unreferenced: {len(report.orphans)} blobs no image uses "
                "(imgtui fsck --repair or imgtui prune removes them)"
            )
        if report.temp_files:
            _out(
                f"unreferenced: {len(report.temp_files)} temporary files left by interrupted writes"
            )
    if report.ok:
        _out(f"{backend.store.root}: ok")
        return 0
    _out(
        f"{backend.store.root}: {len(report.missing)} missing, {len(report.corrupt)} corrupt, "
        f"{len(report.problems)} other problems"
    )
    return 1


def cmd_demo(backend: Backend, args: argparse.Namespace) -> int:
    """Sample images, made on the spot: straight into the store, or loaded into the daemon."""
    import tempfile
    from pathlib import Path

    from imgtui import demo, reference
    from imgtui.backends.base import StatusLine
    from imgtui.backends.builtin import BuiltinBackend
    from imgtui.store import archive
    from imgtui.store.layout import Store

    if isinstance(backend, BuiltinBackend):
        names = demo.make_demo(backend.store)
        for name in names:
            _out(f"Loaded image: {reference.familiar(name)}")
    else:
        with tempfile.TemporaryDirectory(prefix="imgtui-demo-") as tmp:
            store = Store.open(Path(tmp) / "store")
            demo.make_demo(store)
            index = store.read_index()
            chosen = [(e.descriptor, [e.name] if e.name else []) for e in index.entries]
            path = Path(tmp) / "demo.tar"
            archive.save_archive(store, chosen, path)
            for event in backend.load(path):
                if isinstance(event, StatusLine):
                    _out(event.text)
    _out("Run imgtui to browse them.")
    return 0


# ---------------------------------------------------------------------- parser


def _format_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--format",
        choices=("table", "json"),
        default="table",
        help="table (default) or json: one JSON object per line, as docker prints it",
    )


# Verbs that take the lean path of `main`: their parser alone is built.
ANALYSIS_VERBS = ("analyze", "diff")


def build_parser(*, analysis_only: bool = False) -> argparse.ArgumentParser:
    """imgtui's parser; with analysis_only, the global flags and only ANALYSIS_VERBS."""
    parser = _Parser(
        prog="imgtui",
        description="Browse and manage container images. Without a command, opens the TUI.",
    )
    parser.add_argument("--version", "-v", action="store_true", help="print the version and exit")
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default=os.environ.get("IMGTUI_BACKEND", "auto"),
        help="where images live: auto (default: Docker if a daemon answers, else the built-in "
        "store), docker or builtin",
    )
    parser.add_argument(
        "--store",
        default=None,
        metavar="DIR",
        help=f"the built-in store's folder (default: ${STORE_ENV} or the platform data folder)",
    )
    parser.add_argument("-H", "--host", help="daemon socket to connect to (as docker -H)")
    parser.add_argument("-c", "--context", help="docker context to use (as docker --context)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def verb(name: str, fn: Callable[..., int], help: str, aliases: Sequence[str] = ()):
        p = sub.add_parser(name, help=help, aliases=list(aliases), description=help)
        p.set_defaults(func=fn)
        return p

    if not analysis_only:
        _management_verbs(sub, verb)
    # analyze, diff (issue 7): parser entries and handlers live with the analysis engine
    from imgtui.analysis.cli import add_verbs

    add_verbs(verb)
    return parser


def _management_verbs(sub: Any, verb: Callable[..., argparse.ArgumentParser]) -> None:
    """Every verb but analyze and diff, in the order `imgtui --help` lists them."""
    p = verb("images", cmd_images, "List images", aliases=["ls"])
    p.add_argument("reference", nargs="?", metavar="REPOSITORY[:TAG]")
    p.add_argument(
        "-a",
        "--all",
        action="store_true",
        help="show all images (default hides intermediate images)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="only show image IDs")
    p.add_argument("--digests", action="store_true", help="show digests")
    p.add_argument("--no-trunc", action="store_true", help="don't truncate output")
    p.add_argument(
        "-f",
        "--filter",
        action="append",
        default=[],
        metavar="K=V",
        help="dangling=true|false, label=K[=V], reference=PATTERN, before=, since=, until=",
    )
    _format_arg(p)

    p = verb("history", cmd_history, "Show the history of an image")
    p.add_argument("image", metavar="IMAGE")
    p.add_argument("--no-trunc", action="store_true", help="don't truncate output")
    p.add_argument("-q", "--quiet", action="store_true", help="only show image IDs")
    p.add_argument(
        "-H",
        "--human",
        type=_bool,
        default=True,
        metavar="BOOL",
        help="print sizes and dates in human readable format (default true)",
    )
    _format_arg(p)

    p = verb("inspect", cmd_inspect, "Display detailed information on one or more images")
    p.add_argument("images", nargs="+", metavar="IMAGE")

    p = verb(
        "dockerfile", cmd_dockerfile, "Show the Dockerfile of an image (reconstructed from history)"
    )
    p.add_argument("image", metavar="IMAGE")

    p = verb("tag", cmd_tag, "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE")
    p.add_argument("source", metavar="SOURCE_IMAGE[:TAG]")
    p.add_argument("target", metavar="TARGET_IMAGE[:TAG]")

    p = verb("rmi", cmd_rmi, "Remove one or more images")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("-f", "--force", action="store_true", help="force removal of the image")
    p.add_argument("--no-prune", action="store_true", help="do not delete untagged parents")

    p = verb("prune", cmd_prune, "Remove unused images")
    p.add_argument(
        "-a", "--all", action="store_true", help="remove all unused images, not just dangling ones"
    )
    p.add_argument("-f", "--force", action="store_true", help="do not prompt for confirmation")
    p.add_argument(
        "--filter",
        action="append",
        default=[],
        metavar="until=DURATION",
        help="until=DURATION|TIMESTAMP: only images created before",
    )
    _format_arg(p)

    p = verb("system", _system_usage, "Manage the system: prune, df")
    sys_sub = p.add_subparsers(dest="system_command", metavar="COMMAND", parser_class=_Parser)
    sp = sys_sub.add_parser("prune", help="Remove unused data", description="Remove unused data")
    sp.set_defaults(func=cmd_system_prune)
    sp.add_argument(
        "-a", "--all", action="store_true", help="remove all unused images, not just dangling ones"
    )
    sp.add_argument("-f", "--force", action="store_true", help="do not prompt for confirmation")
    sp.add_argument("--volumes", action="store_true", help="prune anonymous volumes")
    _format_arg(sp)
    sd = sys_sub.add_parser("df", help="Show docker disk usage", description="Show disk usage")
    _df_args(sd)

    p = verb("builder", _builder_usage, "Manage builds: prune the build cache")
    builder_sub = p.add_subparsers(dest="builder_command", metavar="COMMAND", parser_class=_Parser)
    bp = builder_sub.add_parser(
        "prune", help="Remove build cache", description="Remove build cache"
    )
    bp.set_defaults(func=cmd_builder_prune)
    bp.add_argument("-a", "--all", action="store_true", help="remove all unused build cache")
    bp.add_argument("-f", "--force", action="store_true", help="do not prompt for confirmation")

    p = verb("df", cmd_df, "Show disk usage, like docker system df")
    _df_args(p)

    p = verb("ps", cmd_ps, "List containers")
    p.add_argument(
        "-a", "--all", action="store_true", help="show all containers (default shows just running)"
    )
    p.add_argument("-q", "--quiet", action="store_true", help="only display container IDs")
    p.add_argument("--no-trunc", action="store_true", help="don't truncate output")
    _format_arg(p)

    p = verb("pull", cmd_pull, "Download an image from a registry")
    p.add_argument("name", metavar="NAME[:TAG|@DIGEST]")
    p.add_argument("--platform", help="set platform if server is multi-platform capable (os/arch)")
    p.add_argument("-q", "--quiet", action="store_true", help="suppress verbose output")

    p = verb("push", cmd_push, "Upload an image to a registry")
    p.add_argument("name", metavar="NAME[:TAG]")
    p.add_argument("-q", "--quiet", action="store_true", help="suppress verbose output")

    p = verb("build", cmd_build, "Build an image from a Dockerfile")
    p.add_argument("path", metavar="PATH")
    p.add_argument(
        "-t", "--tag", action="append", default=[], help="name and optionally a tag (name:tag)"
    )
    p.add_argument("-f", "--file", help="name of the Dockerfile (default: PATH/Dockerfile)")
    p.add_argument(
        "--build-arg", action="append", default=[], metavar="K=V", help="set build-time variables"
    )
    p.add_argument("--target", help="set the target build stage to build")
    p.add_argument(
        "--no-cache", action="store_true", help="do not use cache when building the image"
    )
    p.add_argument(
        "--pull", action="store_true", help="always attempt to pull a newer version of the image"
    )
    p.add_argument("--network", help="networking mode for RUN instructions (none, host, …)")
    p.add_argument(
        "--label", action="append", default=[], metavar="K=V", help="set metadata for an image"
    )
    p.add_argument("--platform", help="set platform if server is multi-platform capable")
    p.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="suppress the build output and print image ID on success",
    )

    p = verb("run", cmd_run, "Run a command in a new container")
    p.add_argument("--name", help="assign a name to the container")
    p.add_argument("-i", "--interactive", action="store_true", help="keep STDIN open")
    p.add_argument("-t", "--tty", action="store_true", help="allocate a pseudo-TTY")
    p.add_argument("--rm", action="store_true", help="remove the container when it exits")
    p.add_argument(
        "--network",
        default="none",
        choices=("none", "host"),
        help="none (default: no network at all) or host",
    )
    p.add_argument("image", metavar="IMAGE")
    p.add_argument("command", nargs=argparse.REMAINDER, metavar="COMMAND")

    p = verb("rm", cmd_rm, "Remove one or more containers")
    p.add_argument("containers", nargs="+", metavar="CONTAINER")
    p.add_argument("-f", "--force", action="store_true", help="force the removal of a running one")

    p = verb("commit", cmd_commit, "Create a new image from a container's changes")
    p.add_argument("container", metavar="CONTAINER")
    p.add_argument("repository", nargs="?", metavar="REPOSITORY[:TAG]")
    p.add_argument("-m", "--message", help="commit message")
    p.add_argument(
        "-a", "--author", help='author (e.g., "John Hannibal Smith <hannibal@a-team.com>")'
    )
    p.add_argument(
        "-c",
        "--change",
        action="append",
        default=[],
        metavar="INSTRUCTION",
        help="apply Dockerfile instruction to the created image",
    )
    p.add_argument(
        "-p",
        "--pause",
        type=_bool,
        default=True,
        metavar="BOOL",
        help="pause container during commit (default true)",
    )

    p = verb(
        "save", cmd_save, "Save one or more images to a tar archive (streamed to STDOUT by default)"
    )
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("-o", "--output", help="write to a file, instead of STDOUT")

    p = verb("info", cmd_info, "Show which backend and location are in use")
    _format_arg(p)

    p = verb("fsck", cmd_fsck, "Verify the built-in store: every blob present and intact")
    p.add_argument("--repair", action="store_true", help="remove unreferenced blobs and temp files")

    verb("demo", cmd_demo, "Put sample images into the current store (no network needed)")

    p = verb("load", cmd_load, "Load an image from a tar archive or STDIN")
    p.add_argument("-i", "--input", help="read from tar archive file, instead of STDIN")
    p.add_argument("-q", "--quiet", action="store_true", help="suppress the load output")
    _registry_verbs(sub, verb)


def _registry_verb(name: str) -> Callable[..., int]:
    """A handler that imports imgtui.registry only when the verb runs (ssl, http.client)."""

    def handler(backend: Backend | None, args: argparse.Namespace) -> int:
        from imgtui.registry import cli as registry_cli

        return int(getattr(registry_cli, name)(args))

    return handler


def _registry_verbs(sub: Any, verb: Callable[..., argparse.ArgumentParser]) -> None:
    """registry ls, login, logout: they talk to registries only, so they open no backend."""
    p = verb("registry", _registry_verb("registry"), "Browse a registry: repositories and tags")
    p.set_defaults(open_backend=False)
    rs = p.add_subparsers(dest="registry_command", metavar="COMMAND", parser_class=_Parser)
    ls = rs.add_parser(
        "ls",
        help="List a registry's repositories, or one repository's tags",
        description="List a registry's repositories (HOST), or one repository's tags (HOST/REPO)",
    )
    ls.add_argument("target", metavar="HOST[/REPO]")
    ls.add_argument("--platform", help="platform whose image a multi-platform tag shows")
    ls.add_argument("--no-trunc", action="store_true", help="don't truncate digests")
    ls.add_argument("-n", "--page-size", type=int, default=100, help="catalog/tags page size")
    _format_arg(ls)
    p = verb("login", _registry_verb("login"), "Log in to a registry (docker's config.json)")
    p.set_defaults(open_backend=False)
    p.add_argument("server", nargs="?", metavar="SERVER")
    p.add_argument("-u", "--username", help="username")
    p.add_argument("-p", "--password", help="password")
    p.add_argument("--password-stdin", action="store_true", help="take the password from stdin")
    p = verb("logout", _registry_verb("logout"), "Log out from a registry")
    p.set_defaults(open_backend=False)
    p.add_argument("server", nargs="?", metavar="SERVER")


def _df_args(p: argparse.ArgumentParser) -> None:
    p.set_defaults(func=cmd_df)
    p.add_argument(
        "-v", "--verbose", action="store_true", help="show detailed information on space usage"
    )
    _format_arg(p)


def _builder_usage(backend: Backend, args: argparse.Namespace) -> int:
    raise UsageError("imgtui builder: a command is required (prune)")


def _system_usage(backend: Backend, args: argparse.Namespace) -> int:
    raise UsageError("imgtui system: a command is required (prune, df)")


def _bool(text: str) -> bool:
    low = text.lower()
    if low in ("1", "t", "true", "yes"):
        return True
    if low in ("0", "f", "false", "no"):
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean value {text!r}")


# ---------------------------------------------------------------------- main


def _backend_error_code(e: Exception) -> int | None:
    """The exit code of a backend error, None for any other exception.

    The backend contract is not imported for it: a BackendError can only have been raised once
    its module is loaded, and analyze/diff on archives never load it.
    """
    base = sys.modules.get("imgtui.backends.base")
    if base is None or not isinstance(e, base.BackendError):
        return None
    return 1 if isinstance(e, base.BackendUnavailable) else int(e.exit_code)


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    # analyze/diff as the first word: build only their parser (the verb decides every later
    # argument, so the full parser would parse this command line the same way)
    parser = build_parser(analysis_only=bool(argv) and argv[0] in ANALYSIS_VERBS)
    try:
        args = parser.parse_args(argv)
    except UsageError as e:
        print(str(e), file=sys.stderr)
        print("See 'imgtui --help'.", file=sys.stderr)
        return 2
    if args.version:
        _out(f"imgtui version {__version__}")
        return 0
    backend: Backend | None = None
    try:
        if args.command is None:
            from imgtui.prefetch import Prefetch

            backend = open_backend(args)
            prefetch = Prefetch(backend)  # the list loads while Textual imports
            from imgtui.app import run_app

            return run_app(backend, prefetch)
        # Verbs that read files or registries directly (analyze docker-archive:…, registry ls)
        # set open_backend=False and get None: they must work with no daemon and no store.
        if getattr(args, "open_backend", True):
            backend = open_backend(args)
        return int(args.func(backend, args))
    except UsageError as e:
        print(f"Error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("Interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`imgtui images | head`): not an error, and no traceback.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except Exception as e:
        code = _backend_error_code(e)
        if code is None:
            raise
        print(f"Error: {e}", file=sys.stderr)
        return code
    finally:
        if backend is not None:
            backend.close()
