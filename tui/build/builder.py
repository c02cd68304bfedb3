"""The daemonless builder: a Dockerfile and a context in, an image in the store out.

It follows the engine's classic builder (the reference the differential tests compare with):
every stage up to `--target` is built in order; each instruction is one step with one history
entry; metadata instructions change only the config (empty layers), WORKDIR/COPY/ADD/RUN add a
layer when they change the filesystem; the progress reads like `docker build` with
DOCKER_BUILDKIT=0 (`Step 2/5 : COPY …`, ` ---> Using cache`, ` ---> 3f2a…`, `Successfully
built …`). Each step's result is cached (imgtui.build.cache), so an unchanged rebuild only hashes
the context (and that from memory) and unpacks nothing.

A stage's filesystem is a folder under `STORE/.imgtui/build/<uuid>/`, unpacked from its layers
on the first step that misses the cache. COPY/ADD write into it and their layer is the tar of what
they wrote (imgtui.build.tree); RUN runs in the sandbox (imgtui.sandbox) and its layer is the
sandbox's diff. Layers are stored uncompressed (digest = diff_id). The build is all or nothing:
names are set in one `store.locked()` block at the very end, blobs are written under
`store.ingesting()`, and a failed or cancelled build leaves no image and no tag (its blobs stay
unreferenced until a prune sweeps them, as the cache may still use them).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import posixpath
import queue
import shutil
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from imgtui import reference
from imgtui.backends.base import (
    BuildError,
    BuildLog,
    BuildResult,
    BuildStep,
    ImageNotFound,
    InvalidArgument,
    InvalidReference,
    ProgressEvent,
    StatusLine,
)
from imgtui.build import tree as tree_mod
from imgtui.build.cache import BuildCache, DigestMemo, step_key
from imgtui.build.config_eval import METADATA, StageConfig, StageEvaluator
from imgtui.build.copying import (
    CopyRequest,
    Source,
    SourceRoot,
    copy_sources,
    is_url,
    lookup_owner,
    parse_chmod,
)
from imgtui.build.dockerignore import go_clean
from imgtui.build.dockerignore import load as load_ignore
from imgtui.build.errors import DockerfileError
from imgtui.build.history import go_list, go_quoted_list, health_text
from imgtui.build.parser import Dockerfile, Instruction, parse, parse_line
from imgtui.build.plan import PROXY_ARGS, BuildPlan, ResolvedStage, resolve
from imgtui.build.shell import ExpansionError, expand_words
from imgtui.store import oci
from imgtui.store.layout import Store
from imgtui.store.oci import Descriptor

__all__ = ["BuildCancelled", "ImageState", "build"]

_OCI_LAYER_TYPES = {
    oci.DOCKER_LAYER: oci.OCI_LAYER,
    oci.DOCKER_LAYER_GZIP: oci.OCI_LAYER_GZIP,
}
_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386"}


class BuildCancelled(BuildError):
    """The user cancelled the build; nothing was named."""


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _short(image_id: str) -> str:
    return image_id.removeprefix("sha256:")[:12]


@dataclass
class ImageState:
    """An image being built: its config object (as stored) and its layer descriptors."""

    config: dict[str, Any]
    layers: list[Descriptor]

    @property
    def id(self) -> str:
        return "sha256:" + hashlib.sha256(oci.canonical_json(self.config)).hexdigest()

    @classmethod
    def scratch(cls) -> ImageState:
        machine = os.uname().machine
        return cls(
            {
                "architecture": _ARCH.get(machine, machine),
                "os": "linux",
                "config": {},
                "rootfs": {"type": "layers", "diff_ids": []},
                "history": [],
            },
            [],
        )

    def stage_config(self) -> StageConfig:
        return StageConfig.from_docker(self.config.get("config"), self.config.get("author", ""))

    def child(
        self,
        stage_config: StageConfig,
        created_by: str,
        layer: tree_mod.WrittenLayer | None,
    ) -> ImageState:
        """This image plus one step: a new config, a history entry, maybe a layer."""
        config = dict(self.config)
        inner = {
            k: v
            for k, v in (config.get("config") or {}).items()
            if k not in oci.RUNTIME_CONFIG_KEYS
        }
        inner.update(stage_config.to_docker())
        config["config"] = inner
        if stage_config.author:
            config["author"] = stage_config.author
        else:
            config.pop("author", None)
        now = _now()
        config["created"] = now
        entry: dict[str, Any] = {"created": now, "created_by": created_by}
        layers = list(self.layers)
        rootfs = dict(config.get("rootfs") or {"type": "layers"})
        diff_ids = list(rootfs.get("diff_ids") or [])
        if layer is None:
            entry["empty_layer"] = True
        else:
            layers.append(Descriptor(layer.media_type, layer.digest, layer.size))
            diff_ids.append(layer.digest)
        rootfs["diff_ids"] = diff_ids
        config["rootfs"] = rootfs
        config["history"] = [*(config.get("history") or []), entry]
        config.pop("container_config", None)
        config.pop("container", None)
        return ImageState(config, layers)


@dataclass
class _Stage:
    """One stage while it is built."""

    resolved: ResolvedStage
    image: ImageState
    ev: StageEvaluator
    tree: Path | None = None  # unpacked on the first cache miss that needs a filesystem
    rootfs: Any = None  # the sandbox's RootFS for `tree`, when RUN needed one


@dataclass
class _Build:
    store: Store
    context: Path
    dockerfile_text: bytes
    dockerfile: Dockerfile
    plan: BuildPlan
    tags: tuple[str, ...]
    no_cache: bool
    network: str
    cancel: threading.Event
    workdir: Path
    cache: BuildCache
    memo: DigestMemo
    stages: list[_Stage] = field(default_factory=list)
    source: SourceRoot | None = None
    images: dict[str, ImageState] = field(default_factory=dict)


def build(
    store: Store, options: Any, *, cancel: threading.Event | None = None
) -> Iterator[ProgressEvent]:
    """Build `options` (a BuildOptions) into `store`, yielding docker's classic progress.

    Raises BuildError (DockerfileError for a bad Dockerfile, BuildCancelled when `cancel` was
    set) or InvalidArgument for a bad context; nothing is named unless the build succeeded.
    """
    cancel = cancel or threading.Event()
    b = _prepare(store, options, cancel)
    try:
        with store.ingesting():
            yield from _run(b)
    except GeneratorExit:
        cancel.set()  # the consumer went away: stop any RUN still going
        raise
    finally:
        _cleanup(b)


def _prepare(store: Store, options: Any, cancel: threading.Event) -> _Build:
    context = Path(options.context)
    if not context.is_dir():
        raise InvalidArgument(f"unable to prepare context: path {str(context)!r} not found")
    name = options.dockerfile or "Dockerfile"
    path = Path(name) if os.path.isabs(name) else context / name
    try:
        text = path.read_bytes()
    except OSError:
        raise BuildError(
            f"Cannot locate specified Dockerfile: {name} (looked for {path})"
        ) from None
    tags = []
    for tag in options.tags:
        try:
            ref = reference.parse_docker_ref(tag)
        except reference.ReferenceError as e:
            raise InvalidReference(f"invalid tag {tag!r}: {e}") from None
        if ref.digest:
            raise InvalidReference(f"invalid tag {tag!r}: a tag cannot name a digest")
        tags.append(tag)
    dockerfile = parse(text, os.path.basename(name))
    labels = dict(options.labels or {})
    plan = resolve(dockerfile, options.target, dict(options.build_args or {}))
    if labels:
        plan = _with_labels(plan, labels)
    workdir = store.side / "build" / uuid.uuid4().hex
    cache = BuildCache(store)
    return _Build(
        store=store,
        context=context,
        dockerfile_text=text,
        dockerfile=dockerfile,
        plan=plan,
        tags=tuple(tags),
        no_cache=bool(options.no_cache),
        network="host" if options.network_mode == "host" else "none",
        cancel=cancel,
        workdir=workdir,
        cache=cache,
        memo=DigestMemo(cache.root, context),
    )


def _with_labels(plan: BuildPlan, labels: Mapping[str, str]) -> BuildPlan:
    """`--label`s as the classic builder adds them: one LABEL step at the end of the target."""
    from dataclasses import replace

    from imgtui.build.history import go_quote

    text = "LABEL " + " ".join(f"{go_quote(k)}={go_quote(v)}" for k, v in sorted(labels.items()))
    instr = parse_line(text)
    target = plan.stages[-1]
    stage = replace(target.stage, instructions=(*target.stage.instructions, instr))
    stages = (*plan.stages[:-1], replace(target, stage=stage))
    return replace(plan, stages=stages)


def _remove_tree(path: Path) -> None:
    """Delete a stage tree, also folders a RUN made read-only (RootFS.remove knows how)."""
    from imgtui.sandbox.rootfs import RootFS

    with contextlib.suppress(OSError):
        RootFS(path).remove()


def _cleanup(b: _Build) -> None:
    if b.workdir.is_dir():
        for child in b.workdir.iterdir():
            if child.is_dir() and not child.is_symlink():
                _remove_tree(child)
    shutil.rmtree(b.workdir, ignore_errors=True)
    with contextlib.suppress(OSError):
        b.memo.save(b.store.tmp)


def _check(b: _Build) -> None:
    if b.cancel.is_set():
        raise BuildCancelled("build cancelled")


def _run(b: _Build) -> Iterator[ProgressEvent]:
    plan = b.plan
    total = len(plan.dockerfile.meta_args) + sum(1 + len(s.stage.instructions) for s in plan.stages)
    index = 0

    def step(instr: Instruction) -> BuildStep:
        nonlocal index
        index += 1
        return BuildStep(index, total, _step_text(instr))

    for instr in plan.dockerfile.meta_args:
        yield step(instr)
    for rs in plan.stages:
        _check(b)
        yield step(rs.stage.from_instruction)
        image = yield from _base_image(b, rs)
        ev = StageEvaluator(image.stage_config(), plan.arg_scope(), plan.dockerfile.escape)
        stage = _Stage(rs, image, ev)
        b.stages.append(stage)
        yield BuildLog(f" ---> {_short(image.id) if image.layers or not rs.scratch else ''}\n")
        triggers = ev.trigger_instructions()
        if triggers:
            plural = "s" if len(triggers) > 1 else ""
            yield BuildLog(f"# Executing {len(triggers)} build trigger{plural}\n")
            for instr in triggers:
                yield from _dispatch(b, stage, instr)
        for instr in rs.stage.instructions:
            _check(b)
            yield step(instr)
            yield from _dispatch(b, stage, instr)
            yield BuildLog(f" ---> {_short(stage.image.id)}\n")
    unused = sorted(plan.arg_scope().unused() - _declared_anywhere(plan))
    if unused:
        yield BuildLog(f"[Warning] One or more build-args [{' '.join(unused)}] were not consumed\n")
    final = b.stages[-1].image
    image_id = yield from _commit(b, final)
    yield BuildResult(image_id, tuple(reference.familiar(t) for t in b.tags))


def _declared_anywhere(plan: BuildPlan) -> set[str]:
    names = set()
    for rs in plan.stages:
        for instr in rs.stage.instructions:
            if instr.kind == "ARG":
                names.update(name for name, _ in instr.pairs)
    return names


def _step_text(instr: Instruction) -> str:
    """What `Step i/n : …` shows: the instruction as written, continuations joined."""
    return " ".join(instr.original.split()) if "\n" in instr.original else instr.original


# ---------------------------------------------------------------------------- base images


def _base_image(b: _Build, rs: ResolvedStage) -> Iterator[ProgressEvent]:
    """The stage's starting image: scratch, an earlier stage, or an image (pulled if absent)."""
    if rs.base_stage is not None:
        earlier = next(s for s in b.stages if s.resolved.index == rs.base_stage)
        return ImageState(dict(earlier.image.config), list(earlier.image.layers))
    if rs.scratch:
        return ImageState.scratch()
    return (yield from _image(b, rs.base, rs.stage.from_instruction.line))


def _image(b: _Build, ref: str, line: int) -> Iterator[ProgressEvent]:
    """An image of the store by name or id; pulled through imgtui.registry when missing."""
    if ref in b.images:
        return b.images[ref]
    found = _lookup(b.store, ref)
    if found is None:
        try:
            from imgtui.registry import pull
        except ImportError:
            raise BuildError(
                f"Dockerfile:{line}: image {ref} is not in the store; "
                f"run `imgtui pull {ref}` or `imgtui load` it first"
            ) from None
        try:
            for event in pull.pull(b.store, ref):
                if isinstance(event, StatusLine):
                    yield BuildLog(event.text + "\n")
        except BuildError:
            raise
        except Exception as e:
            raise BuildError(f"Dockerfile:{line}: FROM {ref}: {e}") from None
        found = _lookup(b.store, ref)
        if found is None:
            raise ImageNotFound(f"Dockerfile:{line}: FROM {ref}: not in the store after pull")
    b.images[ref] = found
    return found


def _lookup(store: Store, ref: str) -> ImageState | None:
    """An image of the store by name, name@digest or (a prefix of) its id; None if absent."""
    index = store.read_index()
    desc: Descriptor | None = None
    try:
        name = reference.normalize(ref)
    except reference.ReferenceError:
        name = None
    if name is not None:
        entry = index.get(name)
        if entry is not None:
            desc = entry.descriptor
        elif "@" in name:
            digest = name.split("@", 1)[1]
            desc = next((e.descriptor for e in index.entries if e.digest == digest), None)
    if desc is None and reference.is_image_id(ref):
        hexpart = ref.removeprefix("sha256:")
        for e in index.entries:
            if e.descriptor.media_type not in oci.MANIFEST_TYPES:
                continue
            with contextlib.suppress(Exception):
                if store.read_manifest(e.digest).config.digest[7:].startswith(hexpart):
                    desc = e.descriptor
                    break
    if desc is None:
        return None
    if desc.media_type in oci.INDEX_TYPES:
        desc = _platform_manifest(store, desc)
    manifest = store.read_manifest(desc.digest)
    config = store.read_config(manifest.config.digest)
    layers = [
        Descriptor(_OCI_LAYER_TYPES.get(d.media_type, d.media_type), d.digest, d.size)
        for d in manifest.layers
    ]
    return ImageState(config, layers)


def _platform_manifest(store: Store, desc: Descriptor) -> Descriptor:
    from imgtui.store.archive import host_platform

    os_name, arch, _ = host_platform()
    children = oci.parse_index(store.read_blob(desc.digest), f"index {desc.digest}")
    for child in children:
        p = child.platform or {}
        if p.get("os") == os_name and p.get("architecture") == arch:
            return child
    raise BuildError(f"no {os_name}/{arch} image in index {desc.digest}")


# ---------------------------------------------------------------------------- trees


def _tree(b: _Build, stage: _Stage) -> Path:
    """The stage's filesystem, unpacked now if a cached step never needed it."""
    if stage.tree is None:
        stage.tree = _unpack(b, stage.image)
    return stage.tree


def _forget_tree(stage: _Stage) -> None:
    """After a cache hit the tree no longer matches the image: unpack again when needed."""
    if stage.tree is not None:
        _remove_tree(stage.tree)
    stage.tree = None
    stage.rootfs = None


def _unpack(b: _Build, image: ImageState) -> Path:
    """A new tree of `image` (the sandbox's unpacker: the same as `imgtui run` sees)."""
    from imgtui.sandbox.rootfs import RootFS

    b.workdir.mkdir(parents=True, exist_ok=True)
    root = RootFS.unpack(b.store, [d.digest for d in image.layers], b.workdir / uuid.uuid4().hex)
    return root.path


# ---------------------------------------------------------------------------- steps


def _dispatch(b: _Build, stage: _Stage, instr: Instruction) -> Iterator[ProgressEvent]:
    kind = instr.kind
    if kind in ("COPY", "ADD"):
        yield from _copy(b, stage, instr)
    elif kind == "RUN":
        yield from _run_step(b, stage, instr)
    elif kind == "WORKDIR":
        yield from _workdir(b, stage, instr)
    elif kind in METADATA:
        yield from _metadata(b, stage, instr)
    else:
        raise DockerfileError(f"{kind} is not supported by the built-in builder", instr.line)


def _nop(stage: _Stage, text: str, spaces: int = 2) -> str:
    return " ".join(stage.ev.shell()) + " #(nop)" + " " * spaces + text


def _expand_list(stage: _Stage, instr: Instruction) -> list[str]:
    words: list[str] = []
    for arg in instr.args:
        try:
            words += expand_words(arg, stage.ev.expansion_env(), stage.ev.escape)
        except ExpansionError as e:
            raise DockerfileError(str(e), instr.line) from None
    return words


def _metadata_text(stage: _Stage, instr: Instruction) -> Callable[[], str]:
    """The history text; computed before apply() where docker prints the expanded words."""
    ev = stage.ev
    kind = instr.kind
    if kind in ("ENV", "LABEL", "ARG"):
        pairs = [
            (ev.expand(instr, k), None if v is None else ev.expand(instr, v))
            for k, v in instr.pairs
        ]
        words = [k if v is None and kind == "ARG" else f"{k}={v or ''}" for k, v in pairs]
        text = f"{kind} " + " ".join(words)
        return lambda: text
    if kind == "EXPOSE":
        text = "EXPOSE " + " ".join(sorted(_expand_list(stage, instr)))
        return lambda: text
    if kind == "VOLUME":
        text = "VOLUME " + go_list([ev.expand(instr, a) for a in instr.args])
        return lambda: text
    if kind in ("USER", "STOPSIGNAL"):
        text = f"{kind} {ev.expand(instr, instr.args[0])}"
        return lambda: text
    if kind == "CMD":
        return lambda: "CMD " + go_quoted_list(ev.config.cmd or ())
    if kind == "ENTRYPOINT":
        return lambda: "ENTRYPOINT " + go_quoted_list(ev.config.entrypoint or ())
    if kind == "SHELL":
        return lambda: "SHELL " + go_list(instr.args)
    if kind == "HEALTHCHECK":
        assert instr.health is not None
        text = "HEALTHCHECK " + health_text(instr.health)
        return lambda: text
    if kind == "ONBUILD":
        return lambda: "ONBUILD " + instr.trigger_text
    return lambda: f"{kind} {' '.join(instr.args)}"  # MAINTAINER


def _state_key(stage: _Stage) -> list[Any]:
    """What, besides the parent image, a step's result depends on in the evaluator."""
    ev = stage.ev
    return [sorted(ev.args.allowed().items()), sorted(ev.args.declared), ev.cmd_set]


def _reuse(b: _Build, stage: _Stage, key: str, *, files: bool) -> bool:
    """Take a step's cached result, if any; a step that changes `files` also leaves the stage's
    working tree behind (it no longer matches the image)."""
    hit = None if b.no_cache else b.cache.get(key)
    if hit is None:
        return False
    stage.image = ImageState(hit[0], hit[1])
    if files:
        _forget_tree(stage)
    return True


def _metadata(b: _Build, stage: _Stage, instr: Instruction) -> Iterator[ProgressEvent]:
    key = step_key(stage.image.id, instr.kind, instr.original, _state_key(stage))
    text = _metadata_text(stage, instr)
    stage.ev.apply(instr)
    if _reuse(b, stage, key, files=False):
        yield BuildLog(" ---> Using cache\n")
        return
    container = uuid.uuid4().hex
    yield BuildLog(f" ---> Running in {container[:12]}\n")
    stage.image = stage.image.child(stage.ev.config, _nop(stage, text()), None)
    b.cache.put(key, stage.image.config, stage.image.layers)
    yield BuildLog(f"Removing intermediate container {container[:12]}\n")


def _layer_step(
    b: _Build,
    stage: _Stage,
    key: str,
    created_by: Callable[[], str],
    change: Callable[[Path], list[str]],
    *,
    container: bool,
) -> Iterator[ProgressEvent]:
    """A step that may change the filesystem: cached, or `change` the tree and tar the result."""
    if _reuse(b, stage, key, files=True):
        yield BuildLog(" ---> Using cache\n")
        return
    cid = uuid.uuid4().hex[:12]
    if container:
        yield BuildLog(f" ---> Running in {cid}\n")
    root = _tree(b, stage)
    written = change(root)
    _check(b)
    layer = tree_mod.write_layer_tar(b.store, os.fspath(root), tree_mod.layer_order(written))
    stage.image = stage.image.child(stage.ev.config, created_by(), layer)
    b.cache.put(key, stage.image.config, stage.image.layers)
    if container:
        yield BuildLog(f"Removing intermediate container {cid}\n")


def _workdir(b: _Build, stage: _Stage, instr: Instruction) -> Iterator[ProgressEvent]:
    key = step_key(stage.image.id, "WORKDIR", instr.original, _state_key(stage))
    stage.ev.apply(instr)
    path = stage.ev.config.working_dir

    def change(root: Path) -> list[str]:
        created: list[str] = []
        host = tree_mod.resolve_in_root(os.fspath(root), path.lstrip("/"))
        probe = host
        missing = []
        while not os.path.lexists(probe) and probe != os.fspath(root):
            missing.append(probe)
            probe = os.path.dirname(probe)
        for d in reversed(missing):
            os.mkdir(d, 0o755)
            os.chmod(d, 0o755)
            created.append(os.path.relpath(d, root))
        return created

    yield from _layer_step(
        b, stage, key, lambda: _nop(stage, f"WORKDIR {path}", 1), change, container=True
    )


def _source_root(b: _Build) -> SourceRoot:
    if b.source is None:
        matcher = load_ignore(b.context, b.dockerfile.filename)
        b.source = SourceRoot(b.context, matcher, digest_of=b.memo.digest)
    return b.source


def _copy(b: _Build, stage: _Stage, instr: Instruction) -> Iterator[ProgressEvent]:
    kind = instr.kind
    ev = stage.ev
    for flag in ("parents", "exclude"):
        if instr.flag(flag) is not None:
            raise DockerfileError(
                f"{kind} --{flag} is not supported by the built-in builder", instr.line
            )
    if instr.flag("checksum") is not None or instr.flag("keep-git-dir") is not None:
        raise DockerfileError(f"{kind}: remote sources are not supported", instr.line)
    words = [ev.expand(instr, a) for a in instr.args]
    srcs, dest_written = words[:-1], words[-1]
    for src in srcs:
        if is_url(src):
            if kind == "COPY":
                raise DockerfileError("source can't be a URL for COPY", instr.line)
            raise DockerfileError(
                f"ADD {src}: downloading is not supported by the built-in builder (it has no "
                "network); download the file into the build context and ADD it from there",
                instr.line,
            )
    chown = instr.flag("chown")
    chown = ev.expand(instr, chown) if chown else ""
    chmod_text = instr.flag("chmod")
    chmod = parse_chmod(ev.expand(instr, chmod_text), instr.line) if chmod_text else None
    dest = dest_written
    if not dest.startswith("/"):
        slash = dest.endswith("/")
        dest = posixpath.join("/", ev.config.working_dir or "/", dest)
        dest = go_clean(dest) + ("/" if slash and go_clean(dest) != "/" else "")
    from_value = instr.flag("from")
    from_image: ImageState | None = None
    from_stage: _Stage | None = None
    if from_value is not None:
        source = b.plan.copy_source(from_value, stage.resolved.index)
        if isinstance(source, int):
            from_stage = next(s for s in b.stages if s.resolved.index == source)
            from_image = from_stage.image
        else:
            from_image = yield from _image(b, source, instr.line)
        key = step_key(
            stage.image.id, kind, from_image.id, srcs, dest, chown, chmod, _state_key(stage)
        )
        sroot: SourceRoot | None = None
        sources: list[Source] = []
        hashes: list[str] = []
    else:
        sroot = _source_root(b)
        sources = [s for src in srcs for s in sroot.resolve(src, instr.line)]
        if not sources:
            raise DockerfileError(f"{kind} failed: no source files were specified", instr.line)
        hashes = [sroot.source_hash(s) for s in sources]
        key = step_key(stage.image.id, kind, hashes, dest, chown, chmod, _state_key(stage))
    done: dict[str, list[str]] = {}

    def change(root: Path) -> list[str]:
        nonlocal sroot, sources
        if sroot is None:
            assert from_image is not None
            tree = _tree(b, from_stage) if from_stage is not None else _unpack(b, from_image)
            sroot = SourceRoot(tree, None, label=f"stage {from_value}")
            sources = [s for src in srcs for s in sroot.resolve(src, instr.line)]
            if not sources:
                raise DockerfileError(f"{kind} failed: no source files were specified", instr.line)
        owner = lookup_owner(os.fspath(root), chown, instr.line) if chown else (0, 0)
        req = CopyRequest(kind, sources, sroot, dest, owner, chmod, instr.line)
        written, done["hashes"] = copy_sources(os.fspath(root), req, lambda: _check(b))
        return written

    def created_by() -> str:
        got = done.get("hashes") or hashes
        label = got[0]
        if len(got) > 1:
            label = "multi:" + hashlib.sha256("".join(got).encode()).hexdigest()
        owner = f"--chown={chown}" if chown else ""
        return _nop(stage, f"{kind} {owner}{label} in {dest_written} ", 1)

    yield from _layer_step(b, stage, key, created_by, change, container=False)


# ---------------------------------------------------------------------------- RUN


def _run_history(stage: _Stage, argv: list[str]) -> str:
    """`|2 A=1 B=2 /bin/sh -c make`: the build args RUN saw (not shadowed by ENV) in front."""
    ev = stage.ev
    env_names = {e.partition("=")[0] for e in ev.config.env}
    allowed = {k: v for k, v in ev.args.allowed().items() if k not in env_names}
    if not allowed:
        return " ".join(argv)
    declared = ev.args.declared
    shown = sorted(
        f"{k}={v}" for k, v in allowed.items() if not (k in PROXY_ARGS and k not in declared)
    )
    return " ".join([f"|{len(shown)}", *shown, *argv])


def _run_step(b: _Build, stage: _Stage, instr: Instruction) -> Iterator[ProgressEvent]:
    ev = stage.ev
    if instr.flag_values("mount") or instr.flag("security") is not None:
        flag = "--mount" if instr.flag_values("mount") else "--security"
        raise DockerfileError(f"RUN {flag} is not supported by the built-in builder", instr.line)
    network = {"none": "none", "default": b.network, None: b.network}.get(instr.flag("network"))
    if network is None:  # host: only when the whole build was allowed the host's network
        if b.network != "host":
            raise DockerfileError("RUN --network=host needs the build's --network host", instr.line)
        network = "host"
    argv = list(instr.args) if instr.json_form else [*ev.shell(), *instr.args]
    created_by = _run_history(stage, argv)
    key = step_key(stage.image.id, "RUN", created_by, _state_key(stage))
    if _reuse(b, stage, key, files=True):
        yield BuildLog(" ---> Using cache\n")
        return
    sandbox = _sandbox(instr)
    cid = uuid.uuid4().hex[:12]
    yield BuildLog(f" ---> Running in {cid}\n")
    root = _sandbox_root(b, stage, sandbox)
    before = root.snapshot()
    spec = sandbox.RunSpec(
        argv=tuple(argv),
        env=tuple(ev.run_env()),
        # docker's default user is uid 0, looked up in the image's passwd (HOME=/root)
        user=ev.config.user or "0",
        workdir=ev.config.working_dir or "/",
        network=network,
    )
    lines: queue.Queue[bytes | None] = queue.Queue()
    result: dict[str, Any] = {}

    def work() -> None:
        try:
            result["code"] = sandbox.run(root, spec, output=lines.put, cancel=b.cancel)
        except BaseException as e:
            result["error"] = e
        finally:
            lines.put(None)

    worker = threading.Thread(target=work, name="build-run", daemon=True)
    worker.start()
    tail = b""
    try:
        while (chunk := lines.get()) is not None:
            tail = (tail + chunk)[-4096:]
            yield BuildLog(chunk.decode("utf-8", errors="replace"))
    finally:
        if worker.is_alive():
            b.cancel.set()  # the consumer stopped reading: the sandbox kills the command
        worker.join()
    _check(b)
    if "error" in result:
        error = result["error"]
        raise BuildError(f"RUN {instr.original.partition(' ')[2]}: {error}") from None
    code = result.get("code", -1)
    if code != 0:
        last = tail.decode("utf-8", errors="replace").strip().splitlines()
        why = f": {last[-1]}" if last else ""
        raise BuildError(f"The command '{' '.join(argv)}' returned a non-zero code: {code}{why}")
    written = _run_layer(b, root, before, sandbox)
    stage.image = stage.image.child(ev.config, created_by, written)
    b.cache.put(key, stage.image.config, stage.image.layers)
    yield BuildLog(f"Removing intermediate container {cid}\n")


def _run_layer(b: _Build, root: Any, before: Any, sandbox: _Sandbox) -> Any:
    """What RUN changed, as the engine's overlay differ writes it.

    The sandbox's snapshots say which paths changed; the layer then also holds every ancestor of
    a change (overlay copies them up), the other names of a hardlinked file that changed (its
    link count did), `.wh.` files for deletions and an opaque marker for a folder that was
    removed and made again — written with the same tar writer as COPY layers.
    """
    after = root.snapshot()
    changed, deleted = sandbox.changes(before, after, root.mount_points())
    opaque: dict[str, int] = {}
    for path in changed:
        old, new = before.get(path), after[path]
        if old is not None and old.kind == new.kind == "d" and old.ino != new.ino:
            opaque[path.lstrip("/")] = new.mode
    deleted = [
        d.lstrip("/") for d in deleted if not any(d.startswith("/" + o + "/") for o in opaque)
    ]
    names: dict[int, list[str]] = {}
    for path, entry in after.items():
        if entry.kind == "f":
            names.setdefault(entry.ino, []).append(path)
    wanted = set()
    for path in changed:
        wanted.add(path.lstrip("/"))
        entry = after[path]
        if entry.kind == "f" and len(names[entry.ino]) > 1:
            wanted.update(p.lstrip("/") for p in names[entry.ino])
    return tree_mod.write_layer_tar(
        b.store,
        os.fspath(root.path),
        tree_mod.layer_order(wanted),
        whiteouts=deleted,
        opaque=opaque,
    )


class _Sandbox:
    """The sandbox API, imported only when a RUN step misses the cache."""

    def __init__(self) -> None:
        from imgtui.sandbox import RunSpec, unavailable_reason
        from imgtui.sandbox.rootfs import RootFS, changes
        from imgtui.sandbox.run import run

        self.RunSpec = RunSpec
        self.RootFS = RootFS
        self.changes = changes
        self.run = run
        self.unavailable_reason = unavailable_reason


def _sandbox(instr: Instruction) -> _Sandbox:
    try:
        sandbox = _Sandbox()
    except ImportError:
        raise BuildError(
            f"Dockerfile:{instr.line}: RUN needs the sandbox (imgtui.sandbox), which this "
            "imgtui does not have yet; build with --backend docker"
        ) from None
    reason = sandbox.unavailable_reason()
    if reason is not None:
        raise BuildError(f"Dockerfile:{instr.line}: {reason}")
    return sandbox


def _sandbox_root(b: _Build, stage: _Stage, sandbox: _Sandbox) -> Any:
    """The stage's tree as the sandbox's RootFS: COPY and RUN change the same folder."""
    if stage.rootfs is None or stage.tree is None:
        stage.rootfs = sandbox.RootFS(_tree(b, stage))
    return stage.rootfs


# ---------------------------------------------------------------------------- commit


def _commit(b: _Build, image: ImageState) -> Iterator[ProgressEvent]:
    """Write config, Dockerfile and manifest, then name the image: all or nothing."""
    _check(b)
    store = b.store
    config_digest, config_size = store.write_blob(oci.canonical_json(image.config))
    dockerfile_digest, _ = store.write_blob(b.dockerfile_text)
    manifest = {
        "schemaVersion": 2,
        "mediaType": oci.OCI_MANIFEST,
        "config": {"mediaType": oci.OCI_CONFIG, "digest": config_digest, "size": config_size},
        "layers": [d.to_json() for d in image.layers],
        "annotations": {oci.DOCKERFILE_ANNOTATION: dockerfile_digest},
    }
    digest, size = store.write_blob(oci.canonical_json(manifest))
    desc = Descriptor(oci.OCI_MANIFEST, digest, size)
    _check(b)
    with store.locked() as index:
        if b.tags:
            for tag in b.tags:
                index.set_name(reference.normalize(tag), desc)
        else:
            index.add_dangling(desc)
    yield BuildLog(f"Successfully built {_short(config_digest)}\n")
    for tag in b.tags:
        yield BuildLog(f"Successfully tagged {reference.familiar(tag)}\n")
    return config_digest
