"""The error raised for a roster that cannot be used as a whole."""

from __future__ import annotations


class RosterError(Exception):
    """A roster file unusable as a whole (missing, undecodable, empty, bad header...).

    Attributes: ``file`` (the file's name inside the roster, or the archive's name),
    ``line`` (1-based physical line, the header being line 1; ``None`` when the
    problem is not on a line), ``reason`` (what is wrong, translated, no final
    period) and ``hint`` (what to do about it, translated, may be empty).

    ``str(e)`` is ``"file[:line]: reason. hint"``.
    """

    def __init__(self, file: str, line: int | None, reason: str, hint: str = "") -> None:
        self.file = file
        self.line = line
        self.reason = reason
        self.hint = hint
        super().__init__(self._text())

    def _text(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        text = f"{where}: {self.reason}."
        return f"{text} {self.hint}" if self.hint else text

    def __str__(self) -> str:
        return self._text()
