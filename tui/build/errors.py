"""The one exception a bad Dockerfile raises: one docker-like line, `Dockerfile:3: reason`."""

from __future__ import annotations

from imgtui.backends.base import BuildError

__all__ = ["DockerfileError"]


class DockerfileError(BuildError):
    """The Dockerfile is refused; nothing was built.

    `reason` is docker's own text where docker has one (so users can search it), `line` the
    1-based line the instruction starts on (None for file-wide problems), `filename` what the
    user called the file.
    """

    def __init__(self, reason: str, line: int | None = None, filename: str = "Dockerfile"):
        where = f"{filename}:{line}" if line is not None else filename
        super().__init__(f"{where}: {reason}")
        self.reason = reason
        self.line = line
        self.filename = filename
