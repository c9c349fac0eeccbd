"""``parta roster watch``: read a school's roster on a schedule and import it when it changed.

The source is a drop folder (or a ``.zip``, or a class list) the school's information system
exports into, or a OneRoster 1.1/1.2 REST service (:mod:`spaces_provisioner.roster.rest`).
Each cycle reads the source here, checks it (:func:`~spaces_provisioner.roster.load_roster`,
the REST reader), and, only when its content differs from what the last cycle of this watch
imported (a SHA-256 of the files sent), sends it to the running provisioning service exactly
as ``parta roster import`` does: the folder as a zip, a REST roster written as OneRoster 1.1
CSV (:func:`~spaces_provisioner.roster.write.write_roster_csv`) and zipped. The service's
``import_roster`` is declarative and idempotent, so a repeated import changes nothing.

Each cycle prints one line: the time, the organization and the changes per kind (or that
nothing changed, or why nothing was sent). A refusal (409 ``PARTA_MASS_REMOVAL``, an
unreadable roster, an unreachable server) is printed and the watch goes on; that content is
tried again at the next cycle.

::

    watch = RosterWatch(source, org, api=lambda: ApiClient(url, token), every=3600)
    await watch.cycle() -> Cycle          # one read (+ import); what run() prints
    await watch.run(once=False) -> int    # exit code: 0, or 1 when the (only) cycle failed
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol, TextIO

from policies.i18n import _
from policies.model import Roster

from spaces_provisioner.api.client import ApiClient, ApiError
from spaces_provisioner.roster import ONEROSTER_11, RosterError, load_roster
from spaces_provisioner.roster.rest import RestConfig, fetch_roster
from spaces_provisioner.roster.source import ROSTER_SUFFIXES, zip_folder
from spaces_provisioner.roster.write import write_roster_csv

#: How the statuses of a cycle are spelled in ``--json`` output.
IMPORTED, UNCHANGED, REFUSED, UNREADABLE, UNREACHABLE = "imported", "unchanged", "refused", "unreadable", "unreachable"


@dataclass
class Snapshot:
    """One reading of a source: the roster as read here, the zip to send, its digest, the format to name."""

    roster: Roster
    data: bytes
    digest: str
    format: str | None = None


class Source(Protocol):
    """A place a roster is read from."""

    def describe(self) -> str:
        """What the source is, for the log."""
        ...

    async def read(self) -> Snapshot:
        """The roster now; raises RosterError when it cannot be read."""
        ...


def digest_of_zip(data: bytes) -> str:
    """SHA-256 of a zip's members (names and contents in name order; times and compression ignored)."""
    h = hashlib.sha256()
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        for name in sorted(z.namelist()):
            content = z.read(name)
            h.update(f"{name}\0{len(content)}\0".encode())
            h.update(content)
    return h.hexdigest()


@dataclass
class FolderSource:
    """A drop folder, a ``.zip`` or a class list the school's system writes.

    A file written less than ``settle_s`` seconds ago may be half-written: the reading waits
    until the newest file is that old (at most ``max_wait_s``).
    """

    path: Path
    format: str | None = None
    settle_s: float = 2.0
    max_wait_s: float = 60.0

    def describe(self) -> str:
        return str(self.path)

    def _newest_mtime(self) -> float:
        path = Path(self.path)
        if not path.is_dir():
            return path.stat().st_mtime if path.exists() else 0.0
        times = [p.stat().st_mtime for p in [*path.iterdir(), *(q for d in path.iterdir() if d.is_dir()
                                                                 for q in d.iterdir())]
                 if p.is_file() and p.suffix.lower() in ROSTER_SUFFIXES]
        return max(times, default=0.0)

    async def read(self) -> Snapshot:
        waited = 0.0
        while waited < self.max_wait_s:
            age = time.time() - self._newest_mtime()
            if age >= self.settle_s:
                break
            pause = self.settle_s - age
            await asyncio.sleep(pause)
            waited += pause
        roster = load_roster(Path(self.path), self.format)  # checked here: the user sees their own file names
        data = zip_folder(Path(self.path))
        return Snapshot(roster, data, digest_of_zip(data), self.format)


@dataclass
class RestSource:
    """A OneRoster REST service; what it serves is sent as OneRoster 1.1 CSV."""

    config: RestConfig

    def describe(self) -> str:
        return self.config.service_url

    async def read(self) -> Snapshot:
        roster = await fetch_roster(self.config)
        with tempfile.TemporaryDirectory(prefix="parta-roster-") as tmp:
            write_roster_csv(roster, Path(tmp))
            data = zip_folder(Path(tmp))
        return Snapshot(roster, data, digest_of_zip(data), ONEROSTER_11)


@dataclass
class Cycle:
    """What one cycle did: ``status`` (imported, unchanged, refused, unreadable, unreachable), the
    service's ``answer`` (imported), the ``error`` and its ``details`` (otherwise), the rows
    left out (``problems``), and the ``line`` printed."""

    status: str
    line: str
    answer: dict | None = None
    error: str = ""
    details: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status in (IMPORTED, UNCHANGED)


class RosterWatch:
    """Reads ``source`` every ``every`` seconds and imports it into ``org`` when it changed."""

    def __init__(self, source: Source, org: str, *, api: Callable[[], ApiClient], every: float = 3600.0,
                 dry_run: bool = False, confirm_mass_removal: bool = False, as_json: bool = False,
                 out: TextIO | None = None) -> None:
        self.source = source
        self.org = org
        self.api = api
        self.every = every
        self.dry_run = dry_run
        self.confirm_mass_removal = confirm_mass_removal
        self.as_json = as_json
        self.out = out
        #: The digest of the content the last successful cycle sent (None: nothing sent yet).
        self.last_digest: str | None = None

    async def cycle(self) -> Cycle:
        """Read the source once and, if it changed, import it; print and return what happened."""
        result = await self._cycle()
        self._print(result)
        return result

    async def run(self, once: bool = False) -> int:
        """Cycle every ``every`` seconds (from the start of one cycle to the next); ``once``: one cycle.

        Returns 0, or with ``once`` 1 when the cycle did not succeed. Without ``once`` it
        runs until cancelled.
        """
        while True:
            started = time.monotonic()
            result = await self.cycle()
            if once:
                return 0 if result.ok else 1
            await asyncio.sleep(max(0.0, self.every - (time.monotonic() - started)))

    async def _cycle(self) -> Cycle:
        try:
            snap = await self.source.read()
        except RosterError as e:
            return Cycle(UNREADABLE, _("the roster cannot be read; nothing sent: {error}").format(error=e),
                         error=str(e))
        if snap.digest == self.last_digest:
            return Cycle(UNCHANGED, _("the roster has not changed since the last import; nothing sent"))
        local = [str(p) for p in snap.roster.problems]
        try:
            async with self.api() as api:
                answer = await api.import_roster(self.org, snap.data, dry_run=self.dry_run,
                                                 confirm_mass_removal=self.confirm_mass_removal, format=snap.format)
        except ApiError as e:
            return Cycle(REFUSED, _("refused, nothing written: {error}").format(error=e.error or e.errcode),
                         error=e.error or e.errcode, details=e.details, problems=local)
        except OSError as e:  # aiohttp's connection errors are OSErrors
            return Cycle(UNREACHABLE, _("The provisioning service does not answer; start it with `parta run DIR`"),
                         error=str(e), problems=local)
        self.last_digest = snap.digest
        problems = list(dict.fromkeys([*local, *answer.get("problems", [])]))
        return Cycle(IMPORTED, self._summary(snap.roster, answer, len(problems)), answer=answer, problems=problems)

    def _summary(self, roster: Roster, answer: dict, skipped: int) -> str:
        from policies.labels import ROSTER_KINDS

        parts = [f"{_(ROSTER_KINDS.get(kind, kind))} {n}" for kind, n in (answer.get("summary") or {}).items() if n]
        if answer.get("moves"):
            parts.append(f"{_('students moved to another class')} {answer['moves']}")
        head = _("roster {format}: {classes} classes, {people} people").format(
            format=roster.format, classes=len(roster.classes), people=len(roster.people))
        changes = answer.get("changes", 0)
        if answer.get("dry_run"):
            tail = _("dry run, nothing written: {changes}").format(
                changes=", ".join(parts) if parts else _("nothing would change"))
        elif changes:
            tail = _("{changes} (changes: {n})").format(
                changes=", ".join(parts) or _("rooms and memberships updated"), n=changes)
        else:
            tail = _("nothing to change (changes: 0)")
        line = f"{head}; {tail}"
        if skipped:
            line += "; " + _("rows skipped: {n}").format(n=skipped)
        return line

    def _print(self, c: Cycle) -> None:
        out = self.out or sys.stdout
        now = datetime.now().astimezone().isoformat(timespec="seconds")
        if self.as_json:
            record = {"time": now, "org": self.org, "source": self.source.describe(), "status": c.status,
                      "answer": c.answer, "error": c.error or None, "details": c.details, "problems": c.problems}
            print(json.dumps(record, ensure_ascii=False), file=out, flush=True)
            return
        print(f"[{now}] {self.org}: {c.line}", file=out, flush=True)
        for d in c.details:
            print(f"  {d}", file=out)
        if c.status == IMPORTED:
            for p in c.problems:
                print(_("  skipped: {problem}").format(problem=p), file=out)
        out.flush()
