"""Dockerfile reconstruction from history: real created_by strings of both builders and more."""

from __future__ import annotations

import json
import re
import shlex
from datetime import datetime, timedelta, timezone

import pytest

from imgtui.analysis.dockerfile import instruction_from_created_by, reconstruct
from imgtui.backends.base import HealthCheck, HistoryEntry, ImageConfig

H1 = "c50ecf0f8081044924e199cfe6cfd18d0c9dd4d16be07790bb24f7088112b98e"
H2 = "1e547fd1073cb430d27f0215d7852f3cf62bd83c234fef919f6863967f32c95c"
BK = "buildkit.dockerfile.v0"
KEYWORDS = {
    *("ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK"),
    *("LABEL", "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR"),
}


# --------------------------------------------------------------------------- a strict reader


def parse_dockerfile(text: str) -> list[tuple[str, str]]:
    """(KEYWORD, rest) per instruction, read the way docker's parser reads a Dockerfile.

    Comment and blank lines are skipped (also inside continuations), a trailing backslash
    continues the line and the next one is appended as is, `<<WORD` heredocs take the lines up
    to WORD. Fails on anything docker would refuse.
    """
    lines = text.split("\n")
    assert lines[-1] == "", "the text ends with a newline"
    out: list[tuple[str, str]] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        while re.search(r"\\[ \t]*$", line):
            line = re.sub(r"\\[ \t]*$", "", line)
            while i < len(lines) and (not lines[i].strip() or lines[i].lstrip().startswith("#")):
                i += 1
            assert i < len(lines), "continuation at the end of the file"
            line += lines[i]
            i += 1
        keyword, _, rest = line.partition(" ")
        assert keyword == keyword.upper() and keyword in KEYWORDS, f"unknown instruction {line!r}"
        for m in re.finditer(r"<<-?(['\"]?)([A-Za-z_]\w*)\1", rest if keyword == "RUN" else ""):
            body = []
            while i < len(lines) and lines[i] != m.group(2):
                body.append(lines[i])
                i += 1
            assert i < len(lines), f"heredoc {m.group(2)} never ends"
            i += 1
            rest += "\n" + "\n".join(body) + "\n" + m.group(2)
        if keyword in ("CMD", "ENTRYPOINT", "RUN", "VOLUME") and rest.startswith("["):
            value = json.loads(rest)
            assert isinstance(value, list) and all(isinstance(v, str) for v in value)
        if keyword == "SHELL":
            assert isinstance(json.loads(rest), list)
        if keyword in ("ENV", "LABEL"):
            for word in shlex.split(rest):
                assert "=" in word, f"{keyword} word without a value: {word!r}"
        if keyword == "EXPOSE":
            for port in rest.split():
                assert re.fullmatch(r"\d+(-\d+)?(/(tcp|udp|sctp))?", port), port
        out.append((keyword, rest))
    return out


def lines_of(dockerfile: str) -> list[str]:
    """The instructions as single strings (continuations joined), comments dropped."""
    return [f"{k} {r}".rstrip() for k, r in parse_dockerfile(dockerfile)]


def entries(*rows: tuple[str, str] | tuple[str, str, int] | HistoryEntry) -> list[HistoryEntry]:
    """History oldest first as (created_by, comment[, size]) -> HistoryEntry newest first."""
    out = []
    for n, row in enumerate(rows):
        if isinstance(row, HistoryEntry):
            out.append(row)
            continue
        created_by, comment, *size = row
        out.append(
            HistoryEntry(
                id="<missing>",
                created=datetime(2024, 1, 1, tzinfo=timezone.utc) + timedelta(minutes=n),
                created_by=created_by,
                size=size[0] if size else 0,
                comment=comment,
            )
        )
    return out[::-1]


# --------------------------------------------------------------------------- one line each

CASES = [
    # classic builder (docker build without BuildKit), as docker 20.10 records them
    ('/bin/sh -c #(nop)  CMD ["sh"]', 'CMD ["sh"]'),
    ('/bin/sh -c #(nop)  CMD ["echo" "hi"]', 'CMD ["echo", "hi"]'),
    ('/bin/sh -c #(nop)  CMD ["/bin/sh" "-c" "nginx -g daemon off;"]', "CMD nginx -g daemon off;"),
    ("/bin/sh -c #(nop)  ENV A=1", "ENV A=1"),
    ("/bin/sh -c #(nop)  ENV A=1 B=two words", 'ENV A=1 B="two words"'),
    ("/bin/sh -c #(nop)  ENV GPG_KEYS=A B C", 'ENV GPG_KEYS="A B C"'),
    ("/bin/sh -c #(nop)  ENV P=$HOME/x", 'ENV P="\\$HOME/x"'),
    ('/bin/sh -c #(nop)  ENV Q=say "hi"', 'ENV Q="say \\"hi\\""'),
    ("/bin/sh -c #(nop)  ENV EMPTY=", 'ENV EMPTY=""'),
    (f"/bin/sh -c #(nop) COPY file:{H1} in /app/ ", f"COPY file:{H1} /app/"),
    (f"/bin/sh -c #(nop) COPY dir:{H2} in /app/dir ", f"COPY dir:{H2} /app/dir"),
    (f"/bin/sh -c #(nop) COPY multi:{H2} in /app/ ", f"COPY multi:{H2} /app/"),
    (f"/bin/sh -c #(nop) ADD file:{H1} in / ", f"ADD file:{H1} /"),
    (f"/bin/sh -c #(nop) ADD dir:{H2} in / ", f"ADD dir:{H2} /"),
    # docker 20.10 drops the space after --chown; newer versions have it
    (f"/bin/sh -c #(nop) COPY --chown=1:2file:{H1} in /o ", f"COPY --chown=1:2 file:{H1} /o"),
    (
        f"/bin/sh -c #(nop) COPY --chown=app:app file:{H1} in /o ",
        f"COPY --chown=app:app file:{H1} /o",
    ),
    (f"/bin/sh -c #(nop) COPY file:{H1} in /my dir/ ", f'COPY ["file:{H1}", "/my dir/"]'),
    ("/bin/sh -c #(nop) WORKDIR /app", "WORKDIR /app"),
    ("/bin/sh -c #(nop) WORKDIR /usr/src/my app", "WORKDIR /usr/src/my app"),
    ("/bin/sh -c #(nop)  LABEL a=b", "LABEL a=b"),
    (
        "/bin/sh -c #(nop)  LABEL maintainer=NGINX Docker Maintainers <docker-maint@nginx.com>",
        'LABEL maintainer="NGINX Docker Maintainers <docker-maint@nginx.com>"',
    ),
    (
        "/bin/sh -c #(nop)  LABEL org.opencontainers.image.title=x "
        "org.opencontainers.image.version=1",
        "LABEL org.opencontainers.image.title=x org.opencontainers.image.version=1",
    ),
    ("/bin/sh -c #(nop)  EXPOSE 443/udp 80 8080/tcp", "EXPOSE 443/udp 80 8080/tcp"),
    ("/bin/sh -c #(nop)  USER nobody", "USER nobody"),
    ("/bin/sh -c #(nop)  USER 1000:1000", "USER 1000:1000"),
    ("/bin/sh -c #(nop)  VOLUME [/data /other]", "VOLUME /data /other"),
    ("/bin/sh -c #(nop)  VOLUME [/var/lib/mysql]", "VOLUME /var/lib/mysql"),
    (
        '/bin/sh -c #(nop)  ENTRYPOINT ["/docker-entrypoint.sh"]',
        'ENTRYPOINT ["/docker-entrypoint.sh"]',
    ),
    (
        '/bin/sh -c #(nop)  ENTRYPOINT ["/bin/sh" "-c" "exec nginx -g \\"daemon off;\\""]',
        'ENTRYPOINT exec nginx -g "daemon off;"',
    ),
    ("/bin/sh -c #(nop)  STOPSIGNAL SIGQUIT", "STOPSIGNAL SIGQUIT"),
    (
        '/bin/sh -c #(nop)  HEALTHCHECK &{["CMD-SHELL" "echo ok || exit 1"] '
        '"30s" "5s" "2s" \'\\x04\'}',
        "HEALTHCHECK --interval=30s --timeout=5s --start-period=2s --retries=4 "
        "CMD echo ok || exit 1",
    ),
    (
        '/bin/sh -c #(nop)  HEALTHCHECK &{["CMD" "curl" "-f" "http://x/"] '
        '"1m30s" "0s" "0s" \'\\n\'}',
        'HEALTHCHECK --interval=1m30s --retries=10 CMD ["curl", "-f", "http://x/"]',
    ),
    ('/bin/sh -c #(nop)  HEALTHCHECK &{["NONE"] "0s" "0s" "0s" \'\\x00\'}', "HEALTHCHECK NONE"),
    ("/bin/sh -c #(nop)  SHELL [/bin/sh -ec]", 'SHELL ["/bin/sh", "-ec"]'),
    (
        "/bin/sh -c #(nop)  SHELL [/bin/bash -o pipefail -c]",
        'SHELL ["/bin/bash", "-o", "pipefail", "-c"]',
    ),
    ("/bin/sh -c #(nop)  ONBUILD RUN echo onbuild", "ONBUILD RUN echo onbuild"),
    ("/bin/sh -c #(nop)  ONBUILD COPY . /src", "ONBUILD COPY . /src"),
    ("/bin/sh -c #(nop)  ARG X=1", "ARG X=1"),
    ("/bin/sh -c #(nop)  ARG Y", "ARG Y"),
    ("/bin/sh -c #(nop)  MAINTAINER John Doe <j@x.org>", "MAINTAINER John Doe <j@x.org>"),
    # a custom SHELL shows in the nop prefix
    ('/bin/sh -ec #(nop)  CMD ["echo" "hi"]', 'CMD ["echo", "hi"]'),
    # older docker: one space, JSON with commas
    ('/bin/sh -c #(nop) CMD ["/bin/bash"]', 'CMD ["/bin/bash"]'),
    ("/bin/sh -c #(nop) ", ""),
    # Windows images
    ('cmd /S /C #(nop)  CMD ["cmd"]', 'CMD ["cmd"]'),
    (
        "cmd /S /C powershell -Command Install-WindowsFeature Web-Server",
        "RUN powershell -Command Install-WindowsFeature Web-Server",
    ),
    # classic RUN: the command line itself, build args first
    (
        "/bin/sh -c apt-get update && apt-get install -y curl && rm -rf /var/lib/apt/lists/*",
        "RUN apt-get update && apt-get install -y curl && rm -rf /var/lib/apt/lists/*",
    ),
    ("|2 A=1 B=2 /bin/sh -c make", "RUN make"),
    ("|1 MSG=hello world /bin/sh -c echo $MSG", "RUN echo $MSG"),
    (
        "|2 X=7 Y=8 /bin/sh -ec echo shelled",
        "RUN ['/bin/sh', '-ec', 'echo shelled']".replace("'", '"'),
    ),
    ("/bin/sh -c echo a\\", 'RUN ["/bin/sh", "-c", "echo a\\\\"]'),
    # exec form RUN (and docker commit): the argv joined, `sh -c` scripts kept whole
    ("make install", 'RUN ["make", "install"]'),
    ("sh -c echo hi > /f", 'RUN ["sh", "-c", "echo hi > /f"]'),
    (
        "/bin/bash -o pipefail -c curl x | sh",
        'RUN ["/bin/bash", "-o", "pipefail", "-c", "curl x | sh"]',
    ),
    ("bash", 'RUN ["bash"]'),
    # BuildKit
    (
        "RUN /bin/sh -c apk add --no-cache ca-certificates # buildkit",
        "RUN apk add --no-cache ca-certificates",
    ),
    ("RUN |1 X=1 /bin/sh -c echo $X # buildkit", "RUN echo $X"),
    ("RUN |2 X=7 Y=8 /bin/sh -c echo exec > /e # buildkit", "RUN echo exec > /e"),
    ("COPY . /app # buildkit", "COPY . /app"),
    ("COPY hello.txt /app/ # buildkit", "COPY hello.txt /app/"),
    (
        "COPY --chown=node:node --chmod=755 app.sh /usr/local/bin/ # buildkit",
        "COPY --chown=node:node --chmod=755 app.sh /usr/local/bin/",
    ),
    (
        "ADD alpine-minirootfs-3.19.1-x86_64.tar.gz / # buildkit",
        "ADD alpine-minirootfs-3.19.1-x86_64.tar.gz /",
    ),
    ("ENV A=1", "ENV A=1"),
    ('CMD ["sh"]', 'CMD ["sh"]'),
    ('CMD ["/bin/sh" "-c" "echo hi"]', "CMD echo hi"),
    ("WORKDIR /app", "WORKDIR /app"),
    ("ARG X=1", "ARG X=1"),
    ("ARG X=1 Y", "ARG X=1 Y"),
    ("LABEL a=b", "LABEL a=b"),
    ("EXPOSE map[80/tcp:{}]", "EXPOSE 80/tcp"),
    ("EXPOSE map[443/udp:{} 80/tcp:{}]", "EXPOSE 443/udp 80/tcp"),
    ("EXPOSE [80/tcp 443/udp]", "EXPOSE 80/tcp 443/udp"),
    ("USER nobody", "USER nobody"),
    ("VOLUME [/data]", "VOLUME /data"),
    ("STOPSIGNAL SIGTERM", "STOPSIGNAL SIGTERM"),
    ("SHELL [/bin/sh -ec]", 'SHELL ["/bin/sh", "-ec"]'),
    (
        'HEALTHCHECK &{["CMD-SHELL" "curl -f http://localhost/"] "30s" "5s" "0s" \'\\x03\'}',
        "HEALTHCHECK --interval=30s --timeout=5s --retries=3 CMD curl -f http://localhost/",
    ),
    (
        "HEALTHCHECK {Test:[CMD-SHELL curl -f http://localhost/] Interval:30s Timeout:5s "
        "StartPeriod:0s StartInterval:0s Retries:3}",
        "HEALTHCHECK --interval=30s --timeout=5s --retries=3 CMD curl -f http://localhost/",
    ),
    (
        "HEALTHCHECK &{Test:[CMD curl -f http://x/] Interval:1h0m0s Timeout:500ms StartPeriod:1.5s "
        "StartInterval:0s Retries:0}",
        'HEALTHCHECK --interval=1h0m0s --timeout=500ms --start-period=1.5s CMD ["curl", "-f", "http://x/"]',
    ),
    # heredocs (BuildKit, Dockerfile syntax 1.4+)
    (
        "RUN /bin/sh -c cat <<EOF > /etc/motd\nhello\nEOF # buildkit",
        "RUN cat <<EOF > /etc/motd\nhello\nEOF",
    ),
    ("RUN /bin/sh -c echo hi\necho there\n # buildkit", "RUN <<EOF\necho hi\necho there\nEOF"),
    ("COPY <<EOF /etc/x # buildkit", "# COPY <<EOF /etc/x  (inline content not recorded)"),
    # docker import: no command at all
    ("", ""),
    # podman/buildah
    (f"/bin/sh -c #(nop) ADD file:{H1} in readme |inheritLabels=false", f"ADD file:{H1} readme"),
]


@pytest.mark.parametrize(("created_by", "expected"), CASES)
def test_instruction_from_created_by(created_by: str, expected: str) -> None:
    got = instruction_from_created_by(created_by)
    assert got == expected
    if got and not got.startswith("#"):
        assert len(parse_dockerfile(got + "\n")) == 1  # docker's reader takes it whole


# --------------------------------------------------------------------------- whole histories


def test_header_says_it_is_a_reconstruction() -> None:
    text = reconstruct(entries(('/bin/sh -c #(nop)  CMD ["sh"]', "")))
    assert text.startswith("# Reconstructed by imgtui from the image history")
    assert "may differ from the original Dockerfile" in text.splitlines()[0]
    assert text.endswith("\n")


def test_docker_hub_style_base_starts_from_scratch() -> None:
    text = reconstruct(
        entries(
            (f"/bin/sh -c #(nop) ADD file:{H1} in / ", "", 77_800_000),
            ('/bin/sh -c #(nop)  CMD ["bash"]', ""),
        )
    )
    assert lines_of(text) == ["FROM scratch", f"ADD file:{H1} /", 'CMD ["bash"]']
    assert "# the base image's root filesystem" in text


def test_docker_import_is_an_add_of_the_root_filesystem() -> None:
    history = entries(("", "Imported from -", 1_982_000))
    config = ImageConfig(env=("PATH=/bin",), cmd=("sh",))
    text = reconstruct(history, config)
    assert lines_of(text) == ["FROM scratch", "ADD rootfs.tar /", "ENV PATH=/bin", 'CMD ["sh"]']
    assert "# docker import (Imported from -): 1.98MB root filesystem" in text
    # without the config there is nothing to say about ENV and CMD
    assert lines_of(reconstruct(history)) == ["FROM scratch", "ADD rootfs.tar /"]


def test_import_with_message_still_recognised_at_the_bottom() -> None:
    text = reconstruct(entries(("", "my rootfs", 1000)))
    assert lines_of(text) == ["FROM scratch", "ADD rootfs.tar /"]
    assert "docker import (my rootfs)" in text


def tagged(created_by: str, tag: str, size: int = 0, comment: str = "") -> HistoryEntry:
    return HistoryEntry(
        id="sha256:" + "b" * 64,
        created=None,
        created_by=created_by,
        size=size,
        comment=comment,
        tags=(tag,),
    )


CLASSIC = [
    ("", "Imported from -", 1_982_000),
    tagged('/bin/sh -c #(nop)  CMD ["sh"]', "imgtui-test/busybox:latest"),
    ("/bin/sh -c #(nop)  ARG X=1", ""),
    ("/bin/sh -c #(nop)  ARG Y", ""),
    ("/bin/sh -c #(nop)  ARG MSG", ""),
    ("/bin/sh -c #(nop)  ENV A=1 B=two words", ""),
    ("/bin/sh -c #(nop)  LABEL maintainer=me version=1.0 key with space=v", ""),
    ("/bin/sh -c #(nop) WORKDIR /app", ""),
    (f"/bin/sh -c #(nop) COPY file:{H1} in /app/ ", "", 6),
    ("|3 MSG=hello world X=7 Y=8 /bin/sh -c echo $X $Y > /x && echo second; echo third", "", 4),
    ("/bin/sh -c #(nop)  SHELL [/bin/sh -ec]", ""),
    ("|3 MSG=hello world X=7 Y=8 /bin/sh -ec echo shelled", ""),
    ('/bin/sh -ec #(nop)  CMD ["/bin/sh" "-ec" "echo $A"]', ""),
]
CLASSIC_CONFIG = ImageConfig(
    env=("PATH=/bin", "A=1", "B=two words"),
    cmd=("/bin/sh", "-ec", "echo $A"),
    working_dir="/app",
    labels={"maintainer": "me", "version": "1.0", "key with space": "v"},
    shell=("/bin/sh", "-ec"),
)


def test_classic_build_on_a_tagged_base() -> None:
    text = reconstruct(entries(*CLASSIC), CLASSIC_CONFIG)
    assert lines_of(text) == [
        "FROM imgtui-test/busybox:latest",
        "ARG X=1",
        "ARG Y",
        "ARG MSG",
        'ENV A=1 B="two words"',
        'LABEL maintainer=me version=1.0 "key with space"=v',
        "WORKDIR /app",
        f"COPY file:{H1} /app/",
        "RUN echo $X $Y > /x && echo second; echo third",
        'SHELL ["/bin/sh", "-ec"]',
        "RUN echo shelled",
        "CMD echo $A",  # shell form in the custom shell
    ]
    # the build args that differed from the ARG defaults, ready to paste
    assert "# Built with --build-arg 'MSG=hello world' --build-arg X=7 --build-arg Y=8" in text
    # the base image's own steps and config stay out: FROM brings them
    assert "rootfs" not in text and "PATH" not in text


def test_without_config_spaces_in_labels_are_guessed() -> None:
    text = reconstruct(entries(*CLASSIC))
    assert 'LABEL maintainer=me version="1.0 key with" space=v' in text


def test_run_build_args_declare_missing_args() -> None:
    text = reconstruct(
        entries(('/bin/sh -c #(nop)  CMD ["sh"]', ""), ("|2 A=1 B=x y /bin/sh -c make", ""))
    )
    assert lines_of(text)[-3:] == ["ARG A=1", 'ARG B="x y"', "RUN make"]
    assert "Built with" not in text


BUILDKIT = [
    ("", "Imported from -", 1_982_000),
    ("ARG X=1", BK),
    ("ENV A=1 B=two words", BK),
    ("WORKDIR /app", BK),
    ("COPY hello.txt /app/ # buildkit", BK, 6),
    ("RUN |1 X=7 /bin/sh -c echo $X > /x # buildkit", BK, 2),
    ("EXPOSE map[443/udp:{} 80/tcp:{}]", BK),
    ("VOLUME [/data /other]", BK),
    ('HEALTHCHECK &{["CMD-SHELL" "echo ok"] "30s" "0s" "0s" \'\\x00\'}', BK),
    ('ENTRYPOINT ["/bin/sh" "-c"]', BK),
    ('CMD ["echo" "hi"]', BK),
]
BUILDKIT_CONFIG = ImageConfig(
    env=("PATH=/bin", "A=1", "B=two words"),
    entrypoint=("/bin/sh", "-c"),
    cmd=("echo", "hi"),
    working_dir="/app",
    exposed_ports=("443/udp", "80/tcp"),
    volumes=("/data", "/other"),
    on_build=("RUN echo onbuild", "COPY . /src"),
    healthcheck=HealthCheck(("CMD-SHELL", "echo ok"), interval_ns=30_000_000_000),
)


def test_buildkit_history_and_what_it_leaves_out() -> None:
    text = reconstruct(entries(*BUILDKIT), BUILDKIT_CONFIG)
    assert lines_of(text) == [
        "FROM scratch",
        "ADD rootfs.tar /",
        "ENV PATH=/bin",  # set by `docker import --change`: placed right after the import
        "ARG X=1",
        'ENV A=1 B="two words"',
        "WORKDIR /app",
        "COPY hello.txt /app/",
        "RUN echo $X > /x",
        "EXPOSE 443/udp 80/tcp",
        "VOLUME /data /other",
        "HEALTHCHECK --interval=30s CMD echo ok",
        'ENTRYPOINT ["/bin/sh", "-c"]',
        'CMD ["echo", "hi"]',
        "ONBUILD RUN echo onbuild",  # BuildKit records no ONBUILD step: from the config
        "ONBUILD COPY . /src",
    ]
    assert "# Built with --build-arg X=7" in text


def test_docker_commit_is_a_run_of_the_containers_command() -> None:
    history = entries(
        ("", "Imported from -", 1_982_000),
        tagged('/bin/sh -c #(nop)  CMD ["sh"]', "base:1"),
        ("sh -c echo hi > /f", "added f", 3),
    )
    config = ImageConfig(env=("PATH=/bin", "Z=9"), cmd=("cat", "/f"))
    text = reconstruct(history, config)
    assert lines_of(text) == [
        "FROM base:1",
        'RUN ["sh", "-c", "echo hi > /f"]',
        "ENV PATH=/bin Z=9",  # `commit --change` leaves no history: after the commit
        'CMD ["cat", "/f"]',
    ]
    assert "# docker commit: added f" in text


def test_buildah_names_its_base_in_a_comment() -> None:
    history = entries(
        (f"/bin/sh -c #(nop) ADD file:{H1} in / ", ""),
        ('/bin/sh -c #(nop)  CMD ["/bin/sh"]', ""),
        ("/bin/sh -c apk add curl", "FROM docker.io/library/alpine:latest"),
    )
    assert lines_of(reconstruct(history)) == [
        "FROM docker.io/library/alpine:latest",
        "RUN apk add curl",
    ]


def test_entrypoint_clears_an_inherited_cmd_like_docker() -> None:
    history = entries(
        ("", "Imported from -", 10),
        ('/bin/sh -c #(nop)  ENTRYPOINT ["/bin/app"]', ""),
    )
    config = ImageConfig(entrypoint=("/bin/app",), cmd=None)
    assert lines_of(reconstruct(history, config)) == [
        "FROM scratch",
        "ADD rootfs.tar /",
        'ENTRYPOINT ["/bin/app"]',
    ]


def test_step_without_command_in_the_middle_is_a_comment() -> None:
    text = reconstruct(entries(("", "Imported from -", 10), ("", "jib classes", 5000)))
    assert lines_of(text) == ["FROM scratch", "ADD rootfs.tar /"]
    assert "# a step with no recorded command added 5kB (jib classes)" in text


def test_empty_history() -> None:
    assert lines_of(reconstruct([])) == ["FROM scratch"]


def test_unexplained_config_without_import_goes_last() -> None:
    text = reconstruct(
        entries((f"/bin/sh -c #(nop) ADD file:{H1} in / ", "")),
        ImageConfig(env=("PATH=/usr/bin",), user="app", stop_signal="SIGINT"),
    )
    assert lines_of(text)[-3:] == ["ENV PATH=/usr/bin", "USER app", "STOPSIGNAL SIGINT"]
    assert "# config not recorded in the history" in text


# --------------------------------------------------------------------------- wrapping


LONG = (
    "apt-get update     && apt-get install -y --no-install-recommends ca-certificates curl"
    "     && rm -rf /var/lib/apt/lists/*"
)


def test_long_run_is_continued_at_and_and_semicolons() -> None:
    text = reconstruct(entries((f"/bin/sh -c {LONG}", "")))
    assert (
        "RUN apt-get update \\\n"
        "    && apt-get install -y --no-install-recommends ca-certificates curl \\\n"
        "    && rm -rf /var/lib/apt/lists/*\n"
    ) in text
    [(_, joined)] = [i for i in parse_dockerfile(text) if i[0] == "RUN"]
    assert shlex.split(joined) == shlex.split(LONG)  # the same words for the shell


@pytest.mark.parametrize(
    "command",
    [
        "set -eux; \t\tapk add --no-cache --virtual .build-deps gcc musl-dev make; \t\tmake -j "
        '"$(nproc)"; \t\tapk del .build-deps; \t\trm -rf /tmp/*',
        'echo "a && b; c" > /x && echo $(echo "x;y") && case $x in a) echo 1;; *) echo 2;; esac'
        " && echo done",
        "test -f /x || (echo missing; exit 1) && echo ok ok ok ok ok ok ok ok ok ok ok ok ok ok ok",
        "echo 'single && quoted; text' && echo \"${VAR:-a;b}\" && echo `date; date` && echo "
        "longer and longer and longer",
        "for f in a b c; do echo $f; done; if [ -f /x ]; then echo yes; else echo no; fi; echo end",
    ],
)
def test_wrapping_never_changes_the_words(command: str) -> None:
    text = reconstruct(entries((f"/bin/sh -c {command}", "")))
    run = [line for line in text.splitlines() if not line.startswith("#")]
    assert len(run) > 2  # FROM plus a RUN continued over lines
    [(_, joined)] = [i for i in parse_dockerfile(text) if i[0] == "RUN"]
    assert shlex.split(joined) == shlex.split(command)


@pytest.mark.parametrize(
    "command",
    [
        "echo hi # a comment && rm -rf / ; echo more more more more more more more more more more",
        'echo "unterminated && x && ' + "y" * 60,
        "cat <<< here-string && echo and a long line that would otherwise be wrapped for sure yes",
        "short && one",
    ],
)
def test_unsafe_or_short_commands_stay_on_one_line(command: str) -> None:
    text = reconstruct(entries((f"/bin/sh -c {command}", "")))
    assert f"RUN {command}\n" in text


def test_trailing_backslash_uses_the_exec_form() -> None:
    text = reconstruct(entries(("/bin/sh -c echo a \\", "")))
    assert 'RUN ["/bin/sh", "-c", "echo a \\\\"]' in text
    assert lines_of(text)[-1] == 'RUN ["/bin/sh", "-c", "echo a \\\\"]'


# --------------------------------------------------------------------------- everything parses


@pytest.mark.parametrize(
    "history",
    [
        entries(*CLASSIC),
        entries(*BUILDKIT),
        entries(*[(c, "") for c, _ in CASES]),
        entries(*[(c, BK) for c, _ in CASES if c]),
    ],
    ids=["classic", "buildkit", "all-cases", "all-cases-buildkit-comment"],
)
def test_output_is_a_valid_dockerfile(history: list[HistoryEntry]) -> None:
    for config in (None, CLASSIC_CONFIG, BUILDKIT_CONFIG):
        instructions = parse_dockerfile(reconstruct(history, config))
        assert instructions[0][0] == "FROM"
        assert sum(1 for k, _ in instructions if k == "FROM") == 1
