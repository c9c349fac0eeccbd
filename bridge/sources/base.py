"""What every journal source offers the poller, and the registry of source types.

A source is configured in the bridge's config (``sources:`` list, each with ``name``,
``type``, ``org`` and its own keys) and built by :func:`build_source`. The poller calls
:meth:`Source.read` once per interval however many rooms use the source; ``validators``
are those the previous :class:`~bridge.model.Snapshot` returned (ETag, Last-Modified, a
file's mtime and hash), so that an unchanged source costs a conditional request.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Protocol
from zoneinfo import ZoneInfo

from bridge.model import Snapshot
from bridge.sources.http import HttpClient


class Source(Protocol):
    """A journal source: ``name`` (unique in the config), ``org`` (the organization it serves)."""

    name: str
    org: str

    async def read(self, http: HttpClient, validators: Mapping[str, str]) -> Snapshot | None:
        """The source's current records, or None when unchanged since ``validators``.

        Raises :class:`bridge.model.SourceError` naming the place and the fix.
        """
        ...


#: ``type`` in the config → a factory taking the source's config mapping.
SOURCE_TYPES: dict[str, Callable[[Mapping], Source]] = {}


def source_type(name: str) -> Callable[[Callable[[Mapping], Source]], Callable[[Mapping], Source]]:
    """Class decorator registering a source type under ``name`` (the config's ``type``)."""
    def register(factory: Callable[[Mapping], Source]) -> Callable[[Mapping], Source]:
        SOURCE_TYPES[name] = factory
        return factory
    return register


def build_source(config: Mapping) -> Source:
    """A source from one entry of the config's ``sources`` list.

    Raises ValueError naming the entry and the valid types when ``type`` is unknown.
    """
    import bridge.sources  # noqa: F401 - registers every type

    kind = config.get("type")
    if kind not in SOURCE_TYPES:
        raise ValueError(f"sources[{config.get('name', '?')}]: unknown type {kind!r}; "
                         f"use one of {', '.join(sorted(SOURCE_TYPES))}")
    return SOURCE_TYPES[kind](config)


@dataclass
class DayWindow:
    """The days a source reads around today (a timetable, a diary): ``days_back`` before and
    ``days_ahead`` after, in the source's ``timezone`` (config keys; defaults 7, 14 and
    Europe/Moscow). The config key ``now`` (ISO 8601) or the ``now`` argument fixes the clock (tests)."""

    tz: tzinfo
    days_back: int
    days_ahead: int
    now: Callable[[], datetime]

    @classmethod
    def from_config(cls, config: Mapping, now: Callable[[], datetime] | None = None, *, back: int = 7,
                    ahead: int = 14) -> DayWindow:
        """From a source's config mapping (raises ValueError for a bad ``now`` or time zone)."""
        tz = ZoneInfo(str(config.get("timezone") or "Europe/Moscow"))
        if now is None and config.get("now"):
            fixed = datetime.fromisoformat(str(config["now"]))
            now = lambda: fixed  # noqa: E731 - a constant clock for tests
        return cls(tz, int(config.get("days_back", back)), int(config.get("days_ahead", ahead)),
                   now or (lambda: datetime.now(tz)))

    def today(self) -> date:
        """Today in the source's time zone."""
        n = self.now()
        return (n.astimezone(self.tz) if n.tzinfo else n).date()

    def dates(self) -> tuple[date, date]:
        """``(first, last)`` day read, both included."""
        today = self.today()
        return today - timedelta(days=self.days_back), today + timedelta(days=self.days_ahead)
