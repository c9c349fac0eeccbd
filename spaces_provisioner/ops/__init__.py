"""Operations: everything the service does to a school, each validated, written in one
database transaction, then reconciled onto the homeserver.

May import ``policies``, :mod:`~spaces_provisioner.db`, :mod:`~spaces_provisioner.homeserver`,
:mod:`~spaces_provisioner.reconcile`, :mod:`~spaces_provisioner.errors` and
:mod:`~spaces_provisioner.settings`; never the HTTP layers (``api``, ``web``) or the command line.
The HTTP routes and pages reach the database only through these operations.

========================  =====================================================================
module                    job
========================  =====================================================================
:mod:`.context`           what operations share: settings, database, bot, templates, the lock
:mod:`.organizations`     applications, approval, organizations, cross-school network rooms
:mod:`.review`            the operator's review: an application, its refusal, health
:mod:`.rosters`           roster import (declarative: only differences are written)
:mod:`.rollover`          the new school year: class rooms archived, classes a grade up
:mod:`.accounts`          login names, one-time passwords, accounts for roster people
:mod:`.people`            confirming teachers, roles, classes, names, removal
:mod:`.links`             registration and chat links, personal codes (both link ledgers)
:mod:`.registrations`     placing registered accounts, redeeming links, the sweep
:mod:`.page`              what the registration page reads and writes
:mod:`.journal`           the journal bridge's directory, the pupils' diaries, the journal status room
:mod:`.calls`             the group calls' token service (LiveKit tokens for those the rules let in)
:mod:`.polls`             poll results for the poll's author and the administration (JSON, CSV)
:mod:`.office_hours`      teachers' office hours (quiet hours): read, set, audited
:mod:`.export`            a room's history for the school's records (the administration; audited)
:mod:`.retention`         retention per school year: archived class rooms purged when their time is up
:mod:`.scheduled`         scheduled messages (MSC4140 delayed events, with the person's own token)
:mod:`.moderation`        reports to the school's moderation room, the administration's actions, the audit log
========================  =====================================================================
"""

from __future__ import annotations

from policies.templates import Templates

from spaces_provisioner.db.schema import Store
from spaces_provisioner.homeserver.bot import BotClient
from spaces_provisioner.ops.accounts import Accounts
from spaces_provisioner.ops.calls import Calls
from spaces_provisioner.ops.context import Context
from spaces_provisioner.ops.export import Export
from spaces_provisioner.ops.journal import Journal
from spaces_provisioner.ops.links import Links
from spaces_provisioner.ops.moderation import Moderation
from spaces_provisioner.ops.office_hours import OfficeHoursOps
from spaces_provisioner.ops.organizations import Organizations
from spaces_provisioner.ops.page import RegistrationPage
from spaces_provisioner.ops.people import People
from spaces_provisioner.ops.polls import Polls
from spaces_provisioner.ops.registrations import Registrations
from spaces_provisioner.ops.retention import Retention
from spaces_provisioner.ops.review import Review
from spaces_provisioner.ops.rollover import Rollover
from spaces_provisioner.ops.rosters import Rosters
from spaces_provisioner.ops.scheduled import Scheduled
from spaces_provisioner.settings import Settings

__all__ = ["Operations"]


class Operations:
    """Every operation of one installation, grouped by resource (``ops.orgs.approve(...)``).

    Call :meth:`start` once before use (it finds or creates the registry room).
    """

    def __init__(self, settings: Settings, store: Store, bot: BotClient, templates: Templates):
        self.ctx = Context(settings, store, bot, templates)
        self.accounts = Accounts(self.ctx)
        self.orgs = Organizations(self.ctx, self.accounts)
        self.review = Review(self.ctx)
        self.rosters = Rosters(self.ctx)
        self.rollover = Rollover(self.ctx, self.rosters)
        self.people = People(self.ctx)
        self.links = Links(self.ctx)
        self.registrations = Registrations(self.ctx)
        self.page = RegistrationPage(self.ctx)
        self.journal = Journal(self.ctx)
        self.calls = Calls(self.ctx)
        self.polls = Polls(self.ctx)
        self.moderation = Moderation(self.ctx, self.people)
        self.office_hours = OfficeHoursOps(self.ctx)
        self.export = Export(self.ctx)
        self.retention = Retention(self.ctx)
        self.scheduled = Scheduled(self.ctx)

    async def start(self) -> None:
        """Connect to the homeserver's registry room; call once before any operation."""
        await self.ctx.start()
