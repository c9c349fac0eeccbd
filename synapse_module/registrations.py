"""Which registration token (Parta link) each new account used, and login-name look-alikes.

Synapse does not record the token a user registered with (docs/ARCHITECTURE.md, "Synapse facts").
The token is visible in the password-auth callback ``get_username_for_registration``
(``uia_results["m.login.registration_token"]``): it is written to a pending row keyed
by the login name, and ``on_user_registration`` (account-validity callback, every
registration path) moves it to ``parta_registrations`` once the account exists. The
provisioning service is then nudged over HTTP and reads the record back through this
module's web resource ``/_synapse/client/parta/registrations`` (bot only), so a
forged nudge cannot make it act.

Tables (in Synapse's database; created on first use; SQLite and PostgreSQL):

- ``parta_registration_pending(localpart PRIMARY KEY, token, ts)``
- ``parta_registrations(user_id PRIMARY KEY, token, ts)``
- ``parta_login_skeletons(user_id PRIMARY KEY, skeleton)`` — for look-alike checks

Sources: Synapse module docs "Password auth provider callbacks" and "Account validity
callbacks"; UTS #39 skeletons via ``policies.names``.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from synapse.api.errors import Codes, SynapseError
from synapse.http.server import DirectServeJsonResource
from synapse.module_api import ModuleApi

from policies import names

from .schema import ensure_schema

log = logging.getLogger(__name__)

SCHEMA = [
    "CREATE TABLE IF NOT EXISTS parta_registration_pending (localpart TEXT PRIMARY KEY, token TEXT NOT NULL, "
    "ts BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS parta_registrations (user_id TEXT PRIMARY KEY, token TEXT NOT NULL, "
    "ts BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS parta_login_skeletons (user_id TEXT PRIMARY KEY, skeleton TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS parta_login_skeletons_skeleton ON parta_login_skeletons (skeleton)",
    "CREATE INDEX IF NOT EXISTS parta_registrations_ts ON parta_registrations (ts)",
]


class Registrations:
    """Registration capture for one Synapse process (state in Synapse's database only)."""

    def __init__(self, api: ModuleApi, bot_user_id: str, provisioning_url: str | None, language: str,
                 nudge_secret: str | None = None):
        self.api = api
        self.nudge_secret = nudge_secret
        self.bot = bot_user_id
        self.provisioning_url = provisioning_url.rstrip("/") if provisioning_url else None
        self.language = language
        self._schema_ready = False
        api.register_password_auth_provider_callbacks(
            get_username_for_registration=self.get_username_for_registration)
        api.register_account_validity_callbacks(on_user_registration=self.on_user_registration)
        api.register_web_resource("/_synapse/client/parta/registrations", RegistrationsResource(self))

    async def _db(self, desc: str, sql: str, args: tuple = ()) -> list[tuple]:
        if not self._schema_ready:
            await ensure_schema(self.api, "parta_schema", SCHEMA)
            self._schema_ready = True

        def run(txn):
            txn.execute(sql, args)
            return txn.fetchall() if txn.description else []
        return await self.api.run_db_interaction(desc, run)

    async def get_username_for_registration(self, uia_results: dict, params: dict) -> str | None:
        """Remember the token the account registers with (keyed by the login name).

        The login name itself was checked earlier, on every registration path, by the wrap of
        Synapse's ``check_username`` (:mod:`synapse_module.hooks`), which refuses with a clear
        400 ``M_INVALID_USERNAME``; an exception here would reach the client as a bare 500.
        """
        token = uia_results.get("m.login.registration_token")
        username = params.get("username")
        localpart = username.lower() if isinstance(username, str) and username else None
        if localpart is None:
            localpart = f"user-{secrets.token_hex(4)}"
        if isinstance(token, str):
            await self._db("parta_pending", "DELETE FROM parta_registration_pending WHERE localpart = ?", (localpart,))
            await self._db("parta_pending", "INSERT INTO parta_registration_pending (localpart, token, ts) "
                           "VALUES (?, ?, ?)", (localpart, token, self.api.get_current_time_msec()))
        return localpart

    async def taken_like(self, localpart: str) -> list[str]:
        """Existing login names with the same skeleton as ``localpart`` (look-alike candidates)."""
        rows = await self._db("parta_lookalikes", "SELECT user_id FROM parta_login_skeletons WHERE skeleton = ?",
                              (names.skeleton(localpart),))
        return [r[0].split(":", 1)[0].lstrip("@") for r in rows]

    async def on_user_registration(self, user_id: str) -> None:
        """The account exists: record its token and its login-name skeleton; nudge the service."""
        localpart = user_id.split(":", 1)[0].lstrip("@")
        await self._db("parta_skeleton", "DELETE FROM parta_login_skeletons WHERE user_id = ?", (user_id,))
        await self._db("parta_skeleton", "INSERT INTO parta_login_skeletons (user_id, skeleton) VALUES (?, ?)",
                       (user_id, names.skeleton(localpart)))
        rows = await self._db("parta_pending", "SELECT token FROM parta_registration_pending WHERE localpart = ?",
                              (localpart,))
        if not rows:
            return
        await self._db("parta_registered", "DELETE FROM parta_registrations WHERE user_id = ?", (user_id,))
        await self._db("parta_registered", "INSERT INTO parta_registrations (user_id, token, ts) VALUES (?, ?, ?)",
                       (user_id, rows[0][0], self.api.get_current_time_msec()))
        await self._db("parta_pending", "DELETE FROM parta_registration_pending WHERE localpart = ?", (localpart,))
        if self.provisioning_url:
            self.api.run_as_background_process("parta_nudge", self._nudge, user_id)

    async def _nudge(self, user_id: str) -> None:
        try:
            headers = {b"Authorization": [f"Bearer {self.nudge_secret}".encode()]} if self.nudge_secret else None
            await self.api.http_client.post_json_get_json(
                f"{self.provisioning_url}/api/v1/registrations/nudge", {"user_id": user_id}, headers=headers)
        except Exception as e:  # noqa: BLE001 - the service's periodic sweep catches up
            log.warning("could not nudge the provisioning service about %s: %s", user_id, e)

    async def lookup(self, user_id: str | None, since: int) -> list[dict]:
        """Recorded registrations: one user's, or every one at or after ``since`` (ms)."""
        if user_id:
            rows = await self._db("parta_lookup", "SELECT user_id, token, ts FROM parta_registrations "
                                  "WHERE user_id = ?", (user_id,))
        else:
            rows = await self._db("parta_lookup", "SELECT user_id, token, ts FROM parta_registrations "
                                  "WHERE ts >= ? ORDER BY ts LIMIT 1000", (since,))
        return [{"user_id": u, "token": t, "ts": ts} for u, t, ts in rows]


class RegistrationsResource(DirectServeJsonResource):
    """``GET /_synapse/client/parta/registrations?user_id=...`` or ``?since=MS`` (the bot only)."""

    def __init__(self, owner: Registrations):
        super().__init__()
        self.owner = owner

    async def _async_render_GET(self, request: Any) -> tuple[int, dict]:
        requester = await self.owner.api.get_user_by_req(request)
        if requester.user.to_string() != self.owner.bot:
            raise SynapseError(403, "Only the Parta bot may read registration records", Codes.FORBIDDEN)
        args = request.args
        user_id = args.get(b"user_id", [b""])[0].decode() or None
        try:
            since = int(args.get(b"since", [b"0"])[0].decode())
        except ValueError:
            raise SynapseError(400, "since must be milliseconds", Codes.INVALID_PARAM) from None
        return 200, {"registrations": await self.owner.lookup(user_id, since)}
