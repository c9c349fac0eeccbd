"""What every operation shares: the settings, the database, the bot, the room templates, one lock.

Operations are serialized by :attr:`Context.lock`: the provisioning service is one process, and
an operation reads the database, writes it, then reconciles the homeserver; two at once would
reconcile from each other's half-written state.
"""

from __future__ import annotations

import asyncio
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from policies import org_settings
from policies.capabilities import Capabilities, default_capabilities
from policies.i18n import _
from policies.templates import Templates

from spaces_provisioner.db import queries
from spaces_provisioner.db import schema as st
from spaces_provisioner.errors import not_found
from spaces_provisioner.homeserver.bot import BotClient
from spaces_provisioner.reconcile.reconciler import Reconciler
from spaces_provisioner.reconcile.registry import ensure_registry
from spaces_provisioner.settings import Settings


class Context:
    """The shared parts of one installation's operations (``settings``, ``store``, ``bot``, ``templates``)."""

    def __init__(self, settings: Settings, store: st.Store, bot: BotClient, templates: Templates):
        self.settings = settings
        self.store = store
        self.bot = bot
        self.templates = templates
        self.caps: Capabilities = default_capabilities()
        self.lock = asyncio.Lock()
        self.registry_id: str | None = None

    async def start(self) -> None:
        """Find (or create) the registry room; call once before any operation."""
        self.registry_id = await ensure_registry(self.bot, self.settings.server_name)

    def reconciler(self) -> Reconciler:
        """A reconciler acting as the bot (see :mod:`spaces_provisioner.reconcile`)."""
        assert self.registry_id is not None, "Context.start() was not called"
        return Reconciler(self.bot, self.store, self.templates, self.settings.server_name,
                          self.registry_id, self.settings.language, self.settings.badge,
                          bridge_user_id=self.settings.journal_bridge_user_id)

    @staticmethod
    def org_row(tx: Connection, org_id: str) -> Any:
        """The organization's row; 404 ``M_NOT_FOUND`` when unknown."""
        org = tx.execute(sa.select(st.organizations).where(st.organizations.c.id == org_id)).one_or_none()
        if org is None:
            raise not_found(_("There is no organization {id}; approve its application first").format(id=org_id))
        return org

    @staticmethod
    def org_settings(tx: Connection, org_id: str) -> dict[str, Any]:
        """The organization's effective settings (its application's over the defaults of
        ``policies.org_settings``); the defaults alone for an unknown organization."""
        return org_settings.effective(queries.org_own_settings(tx, org_id))
