"""One exception type whose message is a single line naming the file and the reason.

The CLI prints ``str(err)`` and never a traceback; batch code catches it per file and moves on.
"""

from __future__ import annotations

from pathlib import Path


class FakelensError(Exception):
    """A user-facing failure: ``cannot read 'clip.mp4': no video stream (is it an audio file?)``."""

    def __init__(self, reason: str, path: str | Path | None = None, verb: str = "cannot read"):
        self.reason = " ".join(str(reason).split())  # always one line
        self.path = None if path is None else str(path)
        self.verb = verb
        super().__init__(self.message)

    @property
    def message(self) -> str:
        if self.path is None:
            return self.reason
        return f"{self.verb} '{self.path}': {self.reason}"


def unexpected(err: BaseException) -> str:
    """One line for an error nobody planned for (``unexpected ValueError: ...``), for the code that
    must go on past it (a batch, a server worker) and still say what happened."""
    return f"unexpected {type(err).__name__}: {' '.join(str(err).split())[:200]}"


class MediaError(FakelensError):
    """The file cannot be decoded as an image or a video."""


class ConfigError(FakelensError):
    """A config file or argument is invalid; the message says what to change."""

    def __init__(self, reason: str, path: str | Path | None = None):
        super().__init__(reason, path, verb="invalid config")
