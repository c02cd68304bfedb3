"""Which stages a build runs, with what bases, and which build args each stage sees.

Docker's rules (classic builder and BuildKit agree unless noted):
- ARGs before the first FROM ("meta args") are expanded in order and usable only in FROM lines;
  a stage sees one only after re-declaring it (`ARG NAME` takes the meta value as its default).
- A `--build-arg` overrides the default of a declared ARG; undeclared build args are ignored,
  except the proxy variables docker allows without a declaration.
- In a stage, ENV beats ARG when both define a name.
- `--target` (case-insensitive) ends the build at that stage. The classic builder runs every
  stage before it; BuildKit only those the target depends on (`BuildPlan.needed`).
- BuildKit also defines TARGETPLATFORM/TARGETOS/… automatically; the classic builder does not.
  Pass `platform_args(...)` as `builtin_args` for BuildKit's behaviour.
"""

from __future__ import annotations

import platform as _platform
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from imgtui.build.errors import DockerfileError
from imgtui.build.parser import Dockerfile, Instruction, Stage
from imgtui.build.shell import ExpansionError, expand

__all__ = [
    "PROXY_ARGS",
    "ArgScope",
    "BuildPlan",
    "ResolvedStage",
    "platform_args",
    "resolve",
]

PROXY_ARGS = frozenset(
    {
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "FTP_PROXY",
        "ftp_proxy",
        "NO_PROXY",
        "no_proxy",
        "ALL_PROXY",
        "all_proxy",
    }
)

_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386"}


def platform_args(target: str | None = None, build: str | None = None) -> dict[str, str]:
    """BuildKit's automatic platform ARGs; `target`/`build` like "linux/arm64/v8"."""
    here = f"linux/{_ARCH.get(_platform.machine(), _platform.machine())}"
    out: dict[str, str] = {}
    for prefix, value in (("TARGET", target or here), ("BUILD", build or here)):
        parts = value.split("/")
        out[f"{prefix}PLATFORM"] = value
        out[f"{prefix}OS"] = parts[0]
        out[f"{prefix}ARCH"] = parts[1] if len(parts) > 1 else ""
        out[f"{prefix}VARIANT"] = parts[2] if len(parts) > 2 else ""
    return out


@dataclass
class ArgScope:
    """The build args of one stage (docker's BuildArgs after ResetAllowed).

    `meta` holds the meta args' values (None = declared without a value and not given), which a
    stage's `ARG NAME` without default inherits; `builtin` counts as meta values.
    """

    build_args: Mapping[str, str]
    meta: Mapping[str, str | None]
    builtin: Mapping[str, str] = field(default_factory=dict)
    declared: dict[str, str | None] = field(default_factory=dict)

    def declare(self, name: str, default: str | None) -> None:
        """An `ARG name[=default]` in this stage (already expanded)."""
        self.declared[name] = default

    def value(self, name: str) -> str | None:
        """The value a declared ARG has now (None = unset)."""
        if name in self.build_args:
            return self.build_args[name]
        default = self.declared.get(name)
        if default is not None:
            return default
        meta = self.meta.get(name)
        return meta if meta is not None else self.builtin.get(name)

    def allowed(self) -> dict[str, str]:
        """Every arg with a value this stage may use: declared ones and given proxy args."""
        out = {n: self.build_args[n] for n in PROXY_ARGS if n in self.build_args}
        for name in self.declared:
            value = self.value(name)
            if value is not None:
                out[name] = value
        return out

    def unused(self) -> set[str]:
        """Build args nothing declared (docker warns that they were not consumed)."""
        return set(self.build_args) - set(self.declared) - set(self.meta) - PROXY_ARGS


@dataclass(frozen=True, slots=True)
class ResolvedStage:
    """A stage with its FROM expanded."""

    stage: Stage
    base: str  # expanded FROM image: "scratch", a reference, or an earlier stage's name
    base_stage: int | None  # index of the earlier stage used as base, if any
    platform: str | None  # expanded --platform

    @property
    def index(self) -> int:
        """The stage's position in the Dockerfile."""
        return self.stage.index

    @property
    def scratch(self) -> bool:
        """FROM scratch: no base image, no base layers, an empty config."""
        return self.base_stage is None and self.base == "scratch"


@dataclass(frozen=True, slots=True)
class BuildPlan:
    """What to build: the stages up to the target, their bases, and the arg state."""

    dockerfile: Dockerfile
    stages: tuple[ResolvedStage, ...]  # stage 0 … target, in order
    meta: Mapping[str, str | None]
    build_args: Mapping[str, str]
    builtin_args: Mapping[str, str]

    @property
    def target(self) -> ResolvedStage:
        """The stage whose image the build produces."""
        return self.stages[-1]

    def arg_scope(self) -> ArgScope:
        """A fresh ArgScope for the start of a stage."""
        return ArgScope(self.build_args, self.meta, self.builtin_args)

    def copy_source(self, value: str, stage_index: int) -> int | str:
        """`COPY --from=value` in stage `stage_index`: an earlier stage's index, or an image ref."""
        if value.isdigit():
            return int(value)  # parse() refused indexes that are not earlier stages
        index = self.dockerfile.stage_index(value)
        if index is not None and index < stage_index:
            return index
        return value

    def needed(self) -> tuple[int, ...]:
        """Indexes of the stages the target depends on (BuildKit builds only these)."""
        want = {self.target.index}
        for rs in reversed(self.stages):
            if rs.index not in want:
                continue
            if rs.base_stage is not None:
                want.add(rs.base_stage)
            for instr in rs.stage.instructions:
                value = instr.flag("from") if instr.kind == "COPY" else None
                if value is not None:
                    source = self.copy_source(value, rs.index)
                    if isinstance(source, int):
                        want.add(source)
        return tuple(sorted(want))


def _expand(instr: Instruction, word: str, env: Mapping[str, str], escape: str) -> str:
    try:
        return expand(word, env, escape)
    except ExpansionError as e:
        raise DockerfileError(str(e), instr.line) from None


def meta_values(
    dockerfile: Dockerfile, build_args: Mapping[str, str], builtin: Mapping[str, str]
) -> dict[str, str | None]:
    """The meta args' values in order: each may use the ones before it (and the builtins)."""
    values: dict[str, str | None] = {}
    for instr in dockerfile.meta_args:
        env = {**builtin, **{k: v for k, v in values.items() if v is not None}}
        expanded = [
            (
                _expand(instr, name, env, dockerfile.escape),
                None if default is None else _expand(instr, default, env, dockerfile.escape),
            )
            for name, default in instr.pairs
        ]
        for name, default in expanded:
            values[name] = build_args.get(name, default)
    return values


def resolve(
    dockerfile: Dockerfile,
    target: str | None = None,
    build_args: Mapping[str, str] | None = None,
    builtin_args: Mapping[str, str] | None = None,
) -> BuildPlan:
    """The stages to build for `--target` (None = the last) with `--build-arg`s.

    Raises DockerfileError with docker's text for a missing target, a FROM that expands to
    nothing, or a bad substitution in a meta ARG or FROM.
    """
    build_args = dict(build_args or {})
    builtin = dict(builtin_args or {})
    meta = meta_values(dockerfile, build_args, builtin)
    last = len(dockerfile.stages) - 1
    if target is not None:
        index = dockerfile.stage_index(target)
        if index is None:
            raise DockerfileError(f"failed to reach build target {target} in Dockerfile")
        last = index
    from_env = {**builtin, **{k: v for k, v in meta.items() if v is not None}}
    resolved = []
    for stage in dockerfile.stages[: last + 1]:
        instr = stage.from_instruction
        base = _expand(instr, stage.base, from_env, dockerfile.escape)
        if not base:
            raise DockerfileError(f"base name ({stage.base}) should not be blank", instr.line)
        platform = None
        if stage.platform is not None:
            platform = _expand(instr, stage.platform, from_env, dockerfile.escape)
        base_stage = dockerfile.stage_index(base)
        if base_stage is not None and base_stage >= stage.index:
            base_stage = None  # only earlier stages count; a later name is an image
        resolved.append(ResolvedStage(stage, base, base_stage, platform))
    return BuildPlan(
        dockerfile,
        tuple(resolved),
        MappingProxyType(meta),
        MappingProxyType(build_args),
        MappingProxyType(builtin),
    )
