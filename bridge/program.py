"""``python -m bridge``: the journal bridge as a mautrix program (``mautrix.util.program.Program``).

Flags: ``-c CONFIG`` (default ``config.yaml``), ``-n`` (do not write the updated config
back), ``-g -r REGISTRATION`` (generate the appservice registration and exit). Running, it
listens for the homeserver's transactions (``mautrix.appservice.AppService``), reads every
source on its interval, posts reminders and digests, and answers ``!дз`` in class chats.
``GET /_parta/journal/health`` tells whether it is up and how each source fares;
``POST /_parta/journal/poll`` (``Authorization: Bearer <as_token>``) reads every source now.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from aiohttp import web
from mautrix.appservice import AppService, ASStateStore
from mautrix.client.state_store import MemoryStateStore as ClientMemoryStateStore
from mautrix.errors import IntentError, MatrixRequestError, MForbidden
from mautrix.types import EventType, Membership, MessageEvent, RoomID, StateEvent
from mautrix.util.async_db import Database
from mautrix.util.program import Program

from bridge.config import Config, registration_of, write_yaml
from bridge.db import Store, upgrade_table
from bridge.journal import CommandHandler, DeliveryError, Journal, JournalSettings
from bridge.provisioning import ProvisioningClient
from bridge.sources.base import Source, build_source
from bridge.sources.http import HttpClient

VERSION = "0.1.0"
PG_SCHEMA = "parta_journal"


async def create_schema(url: str) -> None:
    """Create the bridge's PostgreSQL schema when missing (``async_db`` upgrades need it to exist)."""
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {PG_SCHEMA}")
    finally:
        await conn.close()


class MemoryStateStore(ClientMemoryStateStore, ASStateStore):
    """The appservice's room state cache, in memory: mautrix's default writes ``mx-state.json``
    into the current directory; the bridge asks the homeserver where it is at start instead."""

    def __init__(self) -> None:
        ClientMemoryStateStore.__init__(self)
        ASStateStore.__init__(self)


class IntentMatrix:
    """:class:`bridge.journal.Matrix` over the appservice's intent (the bridge's own user)."""

    def __init__(self, az: AppService):
        self.az = az

    async def send(self, room_id: str, content: dict, txn_id: str) -> str:
        """Send ``m.room.message`` with a stable transaction id (the homeserver de-duplicates).

        The bot's invitation may be newer than the bridge's join (the invite transaction is on
        its way): when the homeserver says the bridge is not in the room, join and send again.
        """
        try:
            return await self._send(RoomID(room_id), content, txn_id)
        except (MatrixRequestError, IntentError) as e:
            raise DeliveryError(str(e)) from e

    async def _send(self, room: RoomID, content: dict, txn_id: str) -> str:
        intent = self.az.intent
        try:
            return await intent.send_message_event(room, EventType.ROOM_MESSAGE, content, txn_id=txn_id)
        except (MForbidden, IntentError):
            # the invitation's own transaction may have joined meanwhile (a second join is refused:
            # the invitation is used up), so ask the homeserver where the bridge is
            if room not in await intent.get_joined_rooms():
                await intent.join_room(room, max_retries=0)
            await self.az.state_store.set_membership(room, intent.mxid, Membership.JOIN)
            await intent.get_power_levels(room, ignore_cache=True)
            return await intent.send_message_event(room, EventType.ROOM_MESSAGE, content, txn_id=txn_id)


class JournalBridge(Program):
    """The bridge's program: config, database, appservice, and the journal's loops."""

    module = "bridge"
    name = "parta-journal-bridge"
    version = VERSION
    command = "python -m bridge"
    description = "Parta's journal bridge: homework, grades and the timetable into school rooms"
    config_class = Config
    config: Config

    def prepare_arg_parser(self) -> None:
        """Add ``-g``/``-r`` (the registration) to mautrix's ``-c``/``-n``."""
        super().prepare_arg_parser()
        self.parser.add_argument("-g", "--generate-registration", action="store_true",
                                 help="write the appservice registration (new tokens) and exit")
        self.parser.add_argument("-r", "--registration", default="registration.yaml", metavar="<path>",
                                 help="where -g writes the registration (default registration.yaml)")

    def preinit(self) -> None:
        """With ``-g``: write the registration before the config is validated (it makes the tokens)."""
        self.prepare_arg_parser()
        self.args = self.parser.parse_args()
        self.prepare_config()
        if self.args.generate_registration:
            registration = self.config.generate_registration()
            self.config.save()
            write_yaml(Path(self.args.registration), registration)
            print(f"Registration written to {self.args.registration}; add it to Synapse's "
                  "app_service_config_files and restart Synapse")
            sys.exit(0)
        self.prepare_log()
        self.check_config()
        self.init_loop()

    def prepare(self) -> None:
        """Build the database, the appservice, the sources and the journal."""
        c = self.config
        url = c["appservice.database"]
        # on PostgreSQL the bridge's tables live in their own schema of the installation's database
        db_args = {"server_settings": {"search_path": PG_SCHEMA}} if url.startswith("postgres") else None
        self.db = Database.create(url, upgrade_table=upgrade_table, db_args=db_args, log=self.log.getChild("db"))
        self.az = AppService(server=c["homeserver.address"], domain=c["homeserver.domain"],
                             as_token=c["appservice.as_token"], hs_token=c["appservice.hs_token"],
                             bot_localpart=c["appservice.bot_username"], id=c["appservice.id"],
                             log="bridge.appservice", state_store=MemoryStateStore())
        self.http = HttpClient()
        self.sources: list[Source] = [build_source(s) for s in (c["sources"] or [])]
        self.provisioning = ProvisioningClient(c["provisioning.url"], c["provisioning.token"])
        self.journal = Journal(Store(self.db), IntentMatrix(self.az), self.provisioning, self.sources,
                               JournalSettings.from_config(c["journal"] or {}), self.http)
        self.commands = CommandHandler(self.journal)
        self.az.matrix_event_handler(self.on_event)
        self.az.app.router.add_get("/_parta/journal/health", self.health)
        self.az.app.router.add_post("/_parta/journal/poll", self.poll_now)
        self._tasks: list[asyncio.Task] = []
        self.last: dict[str, dict] = {}

    async def start(self) -> None:
        """Open the database, listen, register the bridge's user, then start the loops."""
        if self.config["appservice.database"].startswith("postgres"):
            await create_schema(self.config["appservice.database"])
        await self.db.start()
        await self.az.start(host=self.config["appservice.hostname"], port=self.config["appservice.port"])
        await self.az.intent.ensure_registered()  # its name is set by the Parta bot (parta init)
        # the state store is in memory (MemoryStateStore): tell it where the bridge already is, so that sending does not
        # try to join again (the module admits the bridge only on the bot's invitation)
        for room in await self.az.intent.get_joined_rooms():
            await self.az.state_store.set_membership(room, self.az.intent.mxid, Membership.JOIN)
        for s in self.sources:
            self._tasks.append(asyncio.create_task(self._poll_loop(s.name)))
        self._tasks.append(asyncio.create_task(self._clock_loop()))
        self._reading = True  # healthy from here on: each source's first reading holds its lock before any poll
        await super().start()

    async def stop(self) -> None:
        """Stop the loops, the appservice, the HTTP clients and the database."""
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.az.stop()
        await self.http.close()
        await self.provisioning.close()
        await self.db.stop()
        await super().stop()

    async def _poll_loop(self, name: str) -> None:
        while True:
            try:
                self.last[name] = await self.journal.poll(name)
            except Exception:  # noqa: BLE001 - a bug in one reading must not stop the bridge
                self.log.exception("reading %s failed", name)
            state = await self.journal.store.source_state(name)
            await asyncio.sleep(self.journal.next_delay(state))

    async def _clock_loop(self) -> None:
        while True:
            try:
                await self.journal.remind()
                await self.journal.digest()
            except Exception:  # noqa: BLE001
                self.log.exception("reminders or digests failed")
            await asyncio.sleep(min(30.0, self.journal.settings.poll_interval))

    async def on_event(self, event) -> None:  # noqa: ANN001 - a mautrix Event
        """Accept invitations of the Parta bot; answer commands in class chats."""
        me = self.az.intent.mxid
        if isinstance(event, StateEvent) and event.type == EventType.ROOM_MEMBER and event.state_key == me \
                and getattr(event.content, "membership", None) == Membership.INVITE:
            if await self.az.state_store.is_joined(event.room_id, me):
                return  # a message to the room joined it first (IntentMatrix.send)
            try:
                await self.az.intent.join_room(event.room_id, max_retries=0)
            except Exception as e:  # noqa: BLE001 - a refused join is logged; the next invitation tries again
                if event.room_id in await self.az.intent.get_joined_rooms():
                    await self.az.state_store.set_membership(event.room_id, me, Membership.JOIN)
                else:
                    self.log.warning("could not join %s: %s", event.room_id, e)
            return
        if isinstance(event, MessageEvent) and event.type == EventType.ROOM_MESSAGE and event.sender != me:
            body = getattr(event.content, "body", "") or ""
            await self.commands.on_message(event.room_id, event.sender, event.event_id, body)

    async def health(self, request: web.Request) -> web.Response:
        """``{"status": "ok", "sources": {name: {"last_success", "failing_since", "failures"}}}`` (ms since
        the epoch); with ``Authorization: Bearer <as_token>`` also each source's ``last_error``. 503
        ``{"status": "starting"}`` until the reading loops run (``parta run`` waits for it), so that a
        ``POST .../poll`` after a healthy answer never overtakes the sources' first readings."""
        if not getattr(self, "_reading", False):
            return web.json_response({"status": "starting", "version": VERSION}, status=503)
        detail = request.headers.get("Authorization") == f"Bearer {self.config['appservice.as_token']}"
        out = {}
        for name in self.journal.sources:
            s = await self.journal.store.source_state(name)
            out[name] = {"last_success": s.last_success, "failing_since": s.failing_since, "failures": s.failures,
                         **({"last_error": s.last_error} if detail else {})}
        return web.json_response({"status": "ok", "version": VERSION, "sources": out})

    async def poll_now(self, request: web.Request) -> web.Response:
        """Read every source now (operators and tests); answers each reading's summary."""
        if request.headers.get("Authorization") != f"Bearer {self.config['appservice.as_token']}":
            return web.json_response({"errcode": "M_FORBIDDEN", "error": "the bridge's as_token is required"},
                                     status=403)
        results = [await self.journal.poll(name) for name in self.journal.sources]
        reminded = await self.journal.remind()
        digests = await self.journal.digest()
        return web.json_response({"sources": results, "reminders": reminded, "digests": digests})


def main() -> None:
    """Entry point of ``python -m bridge``."""
    JournalBridge().run()


__all__ = ["JournalBridge", "main", "registration_of"]
