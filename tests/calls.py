"""Test helpers for calls: a person's OpenID token, the token service's requests as Element Call
makes them, a LiveKit token's claims, and call membership state (MSC4143) in a room."""

from __future__ import annotations

import sqlite3

import aiohttp
import jwt
import psycopg2

from spaces_provisioner.homeserver.config_file import read_synapse_config
from spaces_provisioner.settings import Settings

from .helpers import User, q

CALL_MEMBER = "org.matrix.msc3401.call.member"
FOUR_HOURS_MS = 4 * 3600 * 1000


async def openid_token(u: User) -> dict:
    """``POST /user/{me}/openid/request_token``: what Element Call hands the token service."""
    return await u.post(f"/_matrix/client/v3/user/{q(u.user_id)}/openid/request_token", {})


async def device_of(u: User) -> str:
    """The device id of ``u``'s session (``GET /account/whoami``)."""
    return (await u.get("/_matrix/client/v3/account/whoami"))["device_id"]


async def ask_token(settings: Settings, body: dict, path: str = "get_token",
                    language: str = "en") -> tuple[int, dict, dict]:
    """POST ``body`` to the token service as a browser does (no Matrix access token); returns
    ``(status, JSON body, headers)``."""
    async with aiohttp.ClientSession() as s, s.post(f"{settings.provisioning_url}/api/v1/livekit/{path}", json=body,
                                                    headers={"Accept-Language": language,
                                                             "Origin": "https://call.example"}) as r:
        return r.status, await r.json(content_type=None), dict(r.headers)


async def get_token_body(u: User, room_id: str, *, member_id: str = "m1", openid: dict | None = None,
                         claimed_user_id: str | None = None) -> dict:
    """An MSC4195 ``/get_token`` body for ``u`` in ``room_id`` (their own OpenID token unless given)."""
    return {"room_id": room_id, "slot_id": "m.call#ROOM",
            "openid_token": openid if openid is not None else await openid_token(u),
            "member": {"id": member_id, "claimed_user_id": claimed_user_id or u.user_id,
                       "claimed_device_id": await device_of(u)}}


def claims(settings: Settings, token: str) -> dict:
    """A LiveKit token's claims, its signature checked with the installation's LiveKit secret."""
    return jwt.decode(token, settings.livekit_api_secret, algorithms=["HS256"], issuer=settings.livekit_api_key,
                      options={"require": ["exp", "sub", "iss"]})


async def join_call(u: User, room_id: str, device: str = "DEV") -> None:
    """``u``'s client joins the room's call (MSC4143 membership with a 4-hour ``expires``)."""
    await u.send_state(room_id, CALL_MEMBER, f"_{u.user_id}_{device}_m.call", {
        "application": "m.call", "call_id": "", "scope": "m.room", "device_id": device,
        "expires": FOUR_HOURS_MS, "focus_active": {"type": "livekit", "focus_selection": "oldest_membership"},
        "foci_preferred": [{"type": "livekit"}]})


async def leave_call(u: User, room_id: str, device: str = "DEV") -> None:
    """``u``'s client leaves the call (empty membership content)."""
    await u.send_state(room_id, CALL_MEMBER, f"_{u.user_id}_{device}_m.call", {})


def expire_openid_token(settings: Settings, access_token: str) -> None:
    """Make an OpenID token expired, in the homeserver's database (Synapse's ``open_id_tokens``: an
    hour's validity, not configurable; the lookup is not cached)."""
    db = read_synapse_config(settings.homeserver_config)["database"]
    sql = "UPDATE open_id_tokens SET ts_valid_until_ms = 1 WHERE token = {}"
    if db["name"] == "sqlite3":
        with sqlite3.connect(db["args"]["database"]) as conn:
            assert conn.execute(sql.format("?"), (access_token,)).rowcount == 1
        return
    args = {k: v for k, v in db["args"].items() if k not in ("cp_min", "cp_max")}
    args["dbname"] = args.pop("database")
    conn = psycopg2.connect(**args)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(sql.format("%s"), (access_token,))
            assert cur.rowcount == 1
    finally:
        conn.close()
