"""A record of what one provisioning operation changed (for "count of changes = 0" on re-runs)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Changes:
    """Changes made, as human-readable lines; ``count`` is what re-runs compare to 0."""

    lines: list[str] = field(default_factory=list)

    def add(self, line: str) -> None:
        """Record one change."""
        self.lines.append(line)

    def extend(self, other: Changes) -> None:
        """Append another operation's changes."""
        self.lines.extend(other.lines)

    @property
    def count(self) -> int:
        """Number of changes written."""
        return len(self.lines)

    def to_json(self) -> dict:
        """``{"changes": int, "details": [str]}``."""
        return {"changes": self.count, "details": list(self.lines)}
