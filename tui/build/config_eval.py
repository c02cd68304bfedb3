"""The image config a Dockerfile produces, from its metadata instructions alone (pure).

ENV ARG LABEL EXPOSE CMD ENTRYPOINT WORKDIR USER VOLUME STOPSIGNAL HEALTHCHECK SHELL ONBUILD and
MAINTAINER change only the config; RUN/COPY/ADD change only the filesystem, so evaluating the
former over the base image's config predicts the built image's config exactly. The builder runs
a StageEvaluator per stage, feeds it every instruction (it ignores RUN/COPY/ADD) and uses
`expansion_env()` / `run_env()` for the rest. Semantics are the classic builder's dispatchers
(checked against engine 20.10 by tests/build): ENV replaces a name in place or appends, ENV
beats ARG in substitutions, all words of one ENV/LABEL/ARG are expanded before any is applied,
a base image's ONBUILD triggers run right after FROM and are not inherited, an ENTRYPOINT
resets a CMD not set in the same stage, `FROM scratch` gets docker's default PATH, WORKDIR joins
relative paths to the current one (an absolute one is kept as written), and zero HEALTHCHECK
fields inherit the previous ones (the classic builder shares the HealthConfig with the step's
container, whose creation fills zero fields from the parent image).

`buildkit=True` follows the engine's BuildKit frontend instead (checked against engine 20.10's
BuildKit by the same corpus): ENV and ARG values form one environment in which the latest
definition wins (an `ARG V=x` after `ENV V=y` expands `$V` to x), proxy build args are not
expandable, HEALTHCHECK replaces the previous one whole, and `FROM scratch` starts in `/`.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from imgtui.build.errors import DockerfileError
from imgtui.build.parser import Dockerfile, Health, Instruction, parse_line
from imgtui.build.plan import ArgScope, BuildPlan, resolve
from imgtui.build.shell import ExpansionError, expand, expand_words

__all__ = [
    "DEFAULT_PATH",
    "DEFAULT_SHELL",
    "METADATA",
    "StageConfig",
    "StageEvaluator",
    "evaluate",
    "parse_ports",
    "valid_signal",
]

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEFAULT_SHELL = ("/bin/sh", "-c")
METADATA = frozenset(
    [
        "ARG",
        "CMD",
        "ENTRYPOINT",
        "ENV",
        "EXPOSE",
        "HEALTHCHECK",
        "LABEL",
        "MAINTAINER",
        "ONBUILD",
        "SHELL",
        "STOPSIGNAL",
        "USER",
        "VOLUME",
        "WORKDIR",
    ]
)

_SIGNALS = set(
    [
        "ABRT",
        "ALRM",
        "BUS",
        "CHLD",
        "CLD",
        "CONT",
        "FPE",
        "HUP",
        "ILL",
        "INT",
        "IO",
        "IOT",
        "KILL",
        "PIPE",
        "POLL",
        "PROF",
        "PWR",
        "QUIT",
        "SEGV",
        "STKFLT",
        "STOP",
        "SYS",
        "TERM",
        "TRAP",
        "TSTP",
        "TTIN",
        "TTOU",
        "URG",
        "USR1",
        "USR2",
        "VTALRM",
        "WINCH",
        "XCPU",
        "XFSZ",
        "RTMIN",
        "RTMAX",
    ]
)
_SIGNALS |= {f"RTMIN+{i}" for i in range(1, 16)} | {f"RTMAX-{i}" for i in range(1, 15)}


@dataclass(frozen=True, slots=True)
class StageConfig:
    """The parts of an image config a Dockerfile controls (docker's container.Config subset)."""

    env: tuple[str, ...] = ()
    cmd: tuple[str, ...] | None = None
    entrypoint: tuple[str, ...] | None = None
    working_dir: str = ""
    user: str = ""
    exposed_ports: frozenset[str] = frozenset()
    labels: tuple[tuple[str, str], ...] = ()  # sorted by key
    volumes: frozenset[str] = frozenset()
    stop_signal: str = ""
    healthcheck: Health | None = None
    shell: tuple[str, ...] | None = None
    on_build: tuple[str, ...] = ()
    author: str = ""  # MAINTAINER; the image's top-level Author, not part of Config

    @classmethod
    def from_docker(cls, config: Mapping[str, Any] | None, author: str = "") -> StageConfig:
        """From an inspect/OCI `Config` object (either key spelling of the engine)."""
        c = dict(config or {})
        hc = c.get("Healthcheck")
        health = None
        if hc:
            health = Health(
                tuple(hc.get("Test") or ()),
                interval=int(hc.get("Interval") or 0),
                timeout=int(hc.get("Timeout") or 0),
                start_period=int(hc.get("StartPeriod") or 0),
                start_interval=int(hc.get("StartInterval") or 0),
                retries=int(hc.get("Retries") or 0),
            )
        return cls(
            env=tuple(c.get("Env") or ()),
            cmd=None if c.get("Cmd") is None else tuple(c["Cmd"]),
            entrypoint=None if c.get("Entrypoint") is None else tuple(c["Entrypoint"]),
            working_dir=c.get("WorkingDir") or "",
            user=c.get("User") or "",
            exposed_ports=frozenset(c.get("ExposedPorts") or ()),
            labels=tuple(sorted((c.get("Labels") or {}).items())),
            volumes=frozenset(c.get("Volumes") or ()),
            stop_signal=c.get("StopSignal") or "",
            healthcheck=health,
            shell=tuple(c["Shell"]) if c.get("Shell") else None,
            on_build=tuple(c.get("OnBuild") or ()),
            author=author,
        )

    def to_docker(self) -> dict[str, Any]:
        """As an image config object (empty fields left out, durations in nanoseconds)."""
        out: dict[str, Any] = {}
        if self.env:
            out["Env"] = list(self.env)
        if self.cmd is not None:
            out["Cmd"] = list(self.cmd)
        if self.entrypoint is not None:
            out["Entrypoint"] = list(self.entrypoint)
        if self.working_dir:
            out["WorkingDir"] = self.working_dir
        if self.user:
            out["User"] = self.user
        if self.exposed_ports:
            out["ExposedPorts"] = {p: {} for p in sorted(self.exposed_ports)}
        if self.labels:
            out["Labels"] = dict(self.labels)
        if self.volumes:
            out["Volumes"] = {v: {} for v in sorted(self.volumes)}
        if self.stop_signal:
            out["StopSignal"] = self.stop_signal
        if self.healthcheck is not None:
            h = self.healthcheck
            hc: dict[str, Any] = {"Test": list(h.test)}
            for key, value in (
                ("Interval", h.interval),
                ("Timeout", h.timeout),
                ("StartPeriod", h.start_period),
                ("StartInterval", h.start_interval),
                ("Retries", h.retries),
            ):
                if value:
                    hc[key] = value
            out["Healthcheck"] = hc
        if self.shell:
            out["Shell"] = list(self.shell)
        if self.on_build:
            out["OnBuild"] = list(self.on_build)
        return out

    def env_dict(self) -> dict[str, str]:
        """Env as a mapping (names are unique: ENV replaces in place)."""
        return dict(e.partition("=")[::2] for e in self.env)


def valid_signal(text: str) -> bool:
    """docker's signal.ParseSignal on Linux: a non-zero number or a name with or without SIG."""
    try:
        return int(text) != 0
    except ValueError:
        pass
    name = text.upper()
    return name.removeprefix("SIG") in _SIGNALS


def _port_range(text: str) -> tuple[int, int] | None:
    try:
        if "-" not in text:
            start = end = int(text)
        else:
            first, _, second = text.partition("-")
            start, end = int(first), int(second.split("-")[0])
    except ValueError:
        return None
    if not (0 <= start <= 65535 and 0 <= end <= 65535) or end < start:
        return None
    return start, end


def parse_ports(specs: Iterable[str]) -> set[str]:
    """EXPOSE's words as docker's nat.ParsePortSpecs: `80`, `80/udp`, `8000-8002`, `ip:h:c/p`."""
    ports: set[str] = set()
    for raw in specs:
        parts = raw.split(":")
        container = parts[-1]
        host = parts[-2] if len(parts) >= 2 else ""
        proto, _, number = "tcp", "", container
        if "/" in container:
            number, _, proto = container.partition("/")
            proto = proto or "tcp"
        if not number:
            raise ValueError(f"No port specified: {raw}<empty>")
        rng = _port_range(number)
        if rng is None:
            raise ValueError(f"Invalid containerPort: {number}")
        if host:
            host_rng = _port_range(host)
            if host_rng is None:
                raise ValueError(f"Invalid hostPort: {host}")
            if host_rng[1] - host_rng[0] != rng[1] - rng[0] and rng[0] != rng[1]:
                raise ValueError(
                    f"Invalid ranges specified for container and host Ports: {number} and {host}"
                )
        if proto.lower() not in ("tcp", "udp", "sctp"):
            raise ValueError(f"Invalid proto: {proto}")
        for port in range(rng[0], rng[1] + 1):
            ports.add(f"{port}/{proto.lower()}")
    return ports


def _go_join_clean(*parts: str) -> str:
    """Go's filepath.Join on Linux: joined and cleaned (no leading `//`)."""
    joined = posixpath.normpath("/".join(p for p in parts if p))
    return "/" + joined.lstrip("/") if joined.startswith("/") else joined


class StageEvaluator:
    """The running config and arg state of one stage; `apply` one instruction at a time."""

    def __init__(
        self,
        base: StageConfig,
        args: ArgScope,
        escape: str = "\\",
        *,
        default_path: bool = True,
        buildkit: bool = False,
    ) -> None:
        env = base.env
        if default_path and not any(e.partition("=")[0] == "PATH" for e in env):
            env = (*env, f"PATH={DEFAULT_PATH}")
        self.triggers = base.on_build  # the base's ONBUILD: run now, not inherited
        self.config = replace(base, env=env, on_build=(), author="")  # MAINTAINER is per image
        self.args = args
        self.escape = escape
        self.cmd_set = False
        self.buildkit = buildkit
        # BuildKit's LLB state env: ENV and ARG values together, the latest one winning.
        self._state_env = dict(e.partition("=")[::2] for e in env)

    # -- what the builder asks for
    def expansion_env(self) -> list[str]:
        """What ADD/COPY/… words expand with: ENV first, then the allowed build args."""
        if self.buildkit:
            return [f"{k}={v}" for k, v in self._state_env.items()]
        names = {e.partition("=")[0] for e in self.config.env}
        extra = [f"{k}={v}" for k, v in self.args.allowed().items() if k not in names]
        return [*self.config.env, *extra]

    def run_env(self) -> list[str]:
        """The environment a RUN sees: the config's Env plus the allowed build args."""
        return self.expansion_env()

    def shell(self) -> tuple[str, ...]:
        """What shell-form RUN/CMD/ENTRYPOINT run under (SHELL, or /bin/sh -c)."""
        return self.config.shell or DEFAULT_SHELL

    def expand(self, instr: Instruction, word: str) -> str:
        """`word` of `instr` expanded with the current state; errors name the line."""
        try:
            return expand(word, self.expansion_env(), self.escape)
        except ExpansionError as e:
            raise DockerfileError(str(e), instr.line) from None

    def trigger_instructions(self) -> list[Instruction]:
        """The base image's ONBUILD triggers, parsed (with the default escape, as docker)."""
        out = []
        for text in self.triggers:
            instr = parse_line(text)
            if instr.kind in ("ONBUILD", "FROM", "MAINTAINER"):
                raise DockerfileError(f"{instr.kind} isn't allowed as an ONBUILD trigger")
            out.append(instr)
        return out

    # -- the dispatchers
    def apply(self, instr: Instruction) -> None:
        """Apply one instruction's effect on the config (RUN/COPY/ADD have none)."""
        if instr.kind not in METADATA:
            return
        handler = getattr(self, f"_do_{instr.kind.lower()}")
        try:
            handler(instr)
        except ValueError as e:
            raise DockerfileError(str(e), instr.line) from None

    def _pairs(self, instr: Instruction) -> list[tuple[str, str | None]]:
        return [
            (self.expand(instr, k), None if v is None else self.expand(instr, v))
            for k, v in instr.pairs
        ]

    def _do_env(self, instr: Instruction) -> None:
        env = list(self.config.env)
        for name, value in self._pairs(instr):
            item = f"{name}={value}"
            for i, existing in enumerate(env):
                if existing.partition("=")[0] == name:
                    env[i] = item
                    break
            else:
                env.append(item)
            self._state_env[name] = value or ""
        self.config = replace(self.config, env=tuple(env))

    def _do_label(self, instr: Instruction) -> None:
        labels = dict(self.config.labels)
        for name, value in self._pairs(instr):
            labels[name] = value or ""
        self.config = replace(self.config, labels=tuple(sorted(labels.items())))

    def _do_arg(self, instr: Instruction) -> None:
        for name, default in self._pairs(instr):
            self.args.declare(name, default)
            value = self.args.value(name)
            if value is not None:
                self._state_env[name] = value

    def _do_expose(self, instr: Instruction) -> None:
        words: list[str] = []
        for arg in instr.args:
            try:
                words += expand_words(arg, self.expansion_env(), self.escape)
            except ExpansionError as e:
                raise DockerfileError(str(e), instr.line) from None
        ports = self.config.exposed_ports | parse_ports(words)
        self.config = replace(self.config, exposed_ports=frozenset(ports))

    def _command(self, instr: Instruction) -> tuple[str, ...]:
        if instr.json_form:
            return instr.args
        return (*self.shell(), *instr.args)

    def _do_cmd(self, instr: Instruction) -> None:
        self.config = replace(self.config, cmd=self._command(instr))
        self.cmd_set = True

    def _do_entrypoint(self, instr: Instruction) -> None:
        entrypoint: tuple[str, ...] | None = self._command(instr)
        if not entrypoint:
            entrypoint = None  # `ENTRYPOINT []` clears it
        cmd = self.config.cmd if self.cmd_set else None
        self.config = replace(self.config, entrypoint=entrypoint, cmd=cmd)

    def _do_workdir(self, instr: Instruction) -> None:
        path = self.expand(instr, instr.args[0])
        if not path:
            raise ValueError("cannot normalize nothing")
        if not path.startswith("/"):
            path = _go_join_clean("/", self.config.working_dir, path)
        self.config = replace(self.config, working_dir=path)

    def _do_user(self, instr: Instruction) -> None:
        self.config = replace(self.config, user=self.expand(instr, instr.args[0]))

    def _do_volume(self, instr: Instruction) -> None:
        volumes = set(self.config.volumes)
        for arg in instr.args:
            path = self.expand(instr, arg)
            if not path:
                raise ValueError("VOLUME specified can not be an empty string")
            volumes.add(path)
        self.config = replace(self.config, volumes=frozenset(volumes))

    def _do_stopsignal(self, instr: Instruction) -> None:
        signal = self.expand(instr, instr.args[0])
        if not valid_signal(signal):
            raise ValueError(f"Invalid signal: {signal}")
        self.config = replace(self.config, stop_signal=signal)

    def _do_healthcheck(self, instr: Instruction) -> None:
        health = instr.health
        old = self.config.healthcheck
        if not self.buildkit and health is not None and old is not None:
            # The classic builder shares the HealthConfig with the container it creates for
            # the step, and container creation fills zero fields from the parent image's: so
            # unset durations/retries (even of NONE) are inherited. BuildKit replaces it whole.
            health = Health(
                health.test or old.test,
                interval=health.interval or old.interval,
                timeout=health.timeout or old.timeout,
                start_period=health.start_period or old.start_period,
                start_interval=health.start_interval or old.start_interval,
                retries=health.retries or old.retries,
            )
        self.config = replace(self.config, healthcheck=health)

    def _do_shell(self, instr: Instruction) -> None:
        self.config = replace(self.config, shell=instr.args)

    def _do_onbuild(self, instr: Instruction) -> None:
        self.config = replace(self.config, on_build=(*self.config.on_build, instr.trigger_text))

    def _do_maintainer(self, instr: Instruction) -> None:
        self.config = replace(self.config, author=instr.args[0])


def evaluate(
    source: Dockerfile | BuildPlan,
    base_config: Callable[[str], StageConfig | Mapping[str, Any] | None],
    *,
    target: str | None = None,
    build_args: Mapping[str, str] | None = None,
    builtin_args: Mapping[str, str] | None = None,
    buildkit: bool = False,
) -> dict[int, StageConfig]:
    """The config of every stage up to the target, keyed by stage index.

    `base_config(ref)` returns an image's config (a StageConfig or a docker `Config` mapping);
    `scratch` and earlier stages need no lookup. `buildkit` picks BuildKit's semantics (then
    pass `plan.platform_args()` as `builtin_args` too).
    """
    plan = (
        source
        if isinstance(source, BuildPlan)
        else resolve(source, target, build_args, builtin_args)
    )
    escape = plan.dockerfile.escape
    results: dict[int, StageConfig] = {}
    for rs in plan.stages:
        if rs.base_stage is not None:
            base = results[rs.base_stage]
        elif rs.scratch:
            base = StageConfig(working_dir="/" if buildkit else "")
        else:
            found = base_config(rs.base)
            base = found if isinstance(found, StageConfig) else StageConfig.from_docker(found)
        ev = StageEvaluator(base, plan.arg_scope(), escape, buildkit=buildkit)
        for instr in ev.trigger_instructions():
            ev.apply(instr)
        for instr in rs.stage.instructions:
            ev.apply(instr)
        results[rs.index] = ev.config
    return results
