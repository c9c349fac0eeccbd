"""The group calls' token service: LiveKit tokens only for those the school's rules let into the call.

Element Call (MatrixRTC over LiveKit, MSC4195) asks the ``livekit_service_url`` of the room's
transport for a LiveKit token, with an OpenID token that proves who it is. LiveKit's stock
lk-jwt-service checks only that proof; Parta answers the same two requests
(``POST {livekit_service_url}/get_token`` and the older ``/sfu/get``) and, before it mints a
token, checks with the homeserver whose the OpenID token is (``homeserver.openid``) and, in the
room's current state (read as the bot, Admin API), that the person is joined and may start or
join the call there (``policies.calls.may_get_call_token``). The answer is lk-jwt-service's:
``{"url": <the SFU>, "jwt": <a LiveKit access token>}``, valid an hour, for one LiveKit room.

Names as lk-jwt-service derives them (its ``helper.go``; MSC4195's test vectors):
the LiveKit room is base64(SHA-256(JSON [room id, slot id])) (``/sfu/get``: slot ``m.call#ROOM``);
the identity is base64(SHA-256(JSON [user id, device id, member id])) for ``/get_token`` and
``@user:server:DEVICE`` for ``/sfu/get`` (unpadded standard base64; JSON as Go marshals a string list).
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass

from livekit import api as livekit_api

from policies.calls import call_running, may_get_call_token, power_allows_state
from policies.capabilities import RoomInfo
from policies.i18n import _
from policies.state_events import PartaEventTypes

from spaces_provisioner.db.queries import account_from_db
from spaces_provisioner.errors import Errcode, ProvisioningError, bad_json, check
from spaces_provisioner.homeserver.bot import MatrixRequestError
from spaces_provisioner.homeserver.openid import OpenIdUnavailable, openid_userinfo
from spaces_provisioner.ops.context import Context

log = logging.getLogger("parta.calls")

#: The slot of a room's one call (MatrixRTC ``m.call`` application, room scope); ``/sfu/get`` has no slot.
ROOM_SLOT = "m.call#ROOM"
#: How long a LiveKit token lets its holder join (lk-jwt-service: an hour); a call lasts longer, since
#: LiveKit checks the token only when joining.
TOKEN_TTL = datetime.timedelta(hours=1)


def _go_json(strings: list[str]) -> bytes:
    """A list of strings as Go's ``json.Marshal`` writes it (compact, UTF-8, ``<>&`` and U+2028/9 escaped)."""
    text = json.dumps(strings, ensure_ascii=False, separators=(",", ":"))
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"),
                    ("\u2029", "\\u2029")):
        text = text.replace(ch, esc)
    return text.encode("utf-8")


def _hash(strings: list[str]) -> str:
    return base64.b64encode(hashlib.sha256(_go_json(strings)).digest()).decode("ascii").rstrip("=")


def livekit_room(room_id: str, slot_id: str = ROOM_SLOT) -> str:
    """The LiveKit room of a Matrix room's call slot (lk-jwt-service ``LiveKitRoomAliasFor``)."""
    return _hash([room_id, slot_id])


def livekit_identity(user_id: str, device_id: str, member_id: str) -> str:
    """A MatrixRTC member's LiveKit identity (lk-jwt-service ``LiveKitIdentityFor``)."""
    return _hash([user_id, device_id, member_id])


@dataclass(frozen=True)
class TokenRequest:
    """One request for a token, either shape: the Matrix room, the LiveKit room's slot, the OpenID
    token (``access_token``, ``matrix_server_name``), the user id the client claims (``""``: none),
    and the LiveKit identity to put in the token when the person may have it (a callable of the
    verified user id)."""

    room_id: str
    slot_id: str
    access_token: str
    server_name: str
    claimed_user_id: str
    device_id: str
    member_id: str | None  # None: the older /sfu/get, identity "@user:server:DEVICE"

    def identity(self, user_id: str) -> str:
        """The LiveKit identity for the verified ``user_id``."""
        if self.member_id is None:
            return f"{user_id}:{self.device_id}"
        return livekit_identity(user_id, self.device_id, self.member_id)


def _text(body: Mapping, key: str, *, required: bool = True) -> str:
    value = body.get(key, "")
    if not isinstance(value, str) or (required and not value):
        raise bad_json(_("'{key}' must be non-empty text").format(key=key))
    return value


def _openid(body: Mapping) -> tuple[str, str]:
    token = body.get("openid_token")
    if not isinstance(token, Mapping):
        raise bad_json(_("'openid_token' must be the object the homeserver gives for OpenID (openid/request_token)"))
    return _text(token, "access_token"), _text(token, "matrix_server_name")


def parse_get_token(body: Mapping) -> TokenRequest:
    """``POST /get_token``'s body (MSC4195): ``{room_id, slot_id, openid_token, member: {id,
    claimed_user_id, claimed_device_id}}``; 400 ``M_BAD_JSON`` naming the missing field. The
    delayed-leave fields (``delay_id``...) are ignored: the client keeps its own delayed leave."""
    member = body.get("member")
    if not isinstance(member, Mapping):
        raise bad_json(_("'member' must be an object with 'id', 'claimed_user_id' and 'claimed_device_id'"))
    access_token, server_name = _openid(body)
    return TokenRequest(room_id=_text(body, "room_id"), slot_id=_text(body, "slot_id"), access_token=access_token,
                        server_name=server_name, claimed_user_id=_text(member, "claimed_user_id"),
                        device_id=_text(member, "claimed_device_id"), member_id=_text(member, "id"))


def parse_sfu_get(body: Mapping) -> TokenRequest:
    """``POST /sfu/get``'s body (the older Element Call): ``{room, openid_token, device_id}``."""
    access_token, server_name = _openid(body)
    return TokenRequest(room_id=_text(body, "room"), slot_id=ROOM_SLOT, access_token=access_token,
                        server_name=server_name, claimed_user_id="", device_id=_text(body, "device_id"),
                        member_id=None)


def _unknown_token() -> ProvisioningError:
    return ProvisioningError(401, Errcode.UNKNOWN_TOKEN, _(
        "The homeserver does not know this call sign-in (OpenID token) or it expired; open the call again"),
        reason="openid_token_unknown")


class Calls:
    """The token service's operation (read-only: it writes nothing, so it takes no lock)."""

    def __init__(self, ctx: Context):
        self.ctx = ctx

    async def token(self, req: TokenRequest) -> dict:
        """``{"url", "jwt"}`` for ``req`` when the rules allow it.

        Raises ProvisioningError: 404 ``M_NOT_FOUND`` when the installation has no LiveKit keys;
        401 ``M_UNKNOWN_TOKEN`` (``openid_token_unknown``) for an OpenID token of another server,
        unknown or expired; 403 ``M_FORBIDDEN`` when the token is someone else's than the member
        claims (``call_identity_mismatch``) or the rules say no (``policies.calls``); 502 when the
        homeserver cannot be asked.
        """
        settings = self.ctx.settings
        if not (settings.livekit_api_key and settings.livekit_api_secret and settings.livekit_url):
            raise ProvisioningError(404, Errcode.NOT_FOUND, _(
                "Group calls are not set up on this server (no LiveKit keys in parta.yaml; run parta init --force)"))
        if req.server_name != settings.server_name:
            raise _unknown_token()  # another server's account: never a member of a school's call
        try:
            user_id = await openid_userinfo(settings.homeserver_url, req.access_token)
        except OpenIdUnavailable as e:
            log.error("the homeserver did not check an OpenID token: %s", e)
            raise ProvisioningError(502, Errcode.HOMESERVER_REFUSED, _(
                "The homeserver could not check the call sign-in; try again in a minute")) from e
        if user_id is None:
            raise _unknown_token()
        if req.claimed_user_id and req.claimed_user_id != user_id:
            raise ProvisioningError(403, Errcode.FORBIDDEN, _(
                "The call sign-in belongs to another account than the one named"), reason="call_identity_mismatch")
        await self._check_room(user_id, req.room_id)
        identity = req.identity(user_id)
        room = livekit_room(req.room_id, req.slot_id)
        jwt = (livekit_api.AccessToken(settings.livekit_api_key, settings.livekit_api_secret)
               .with_identity(identity)
               .with_grants(livekit_api.VideoGrants(room_join=True, room_create=False, room=room,
                                                    can_publish=True, can_subscribe=True,
                                                    can_update_own_metadata=False))
               .with_ttl(TOKEN_TTL)
               .to_jwt())
        log.info("call token for %s in %s (LiveKit room %s)", user_id, req.room_id, room)
        return {"url": settings.livekit_url, "jwt": jwt}

    async def _check_room(self, user_id: str, room_id: str) -> None:
        """Refuse (Refused, 403) unless ``user_id`` may start or join the call of ``room_id`` now, by
        the homeserver's rule for their own call membership there (``policies.calls``): joined, the
        room's power levels and read-only rooms allow the membership, and either they may start
        the call or a live membership of someone who may start it is there (a running lesson)."""
        try:
            events = await self.ctx.bot.room_events_as_admin(room_id)
        except MatrixRequestError as e:
            if e.http_status not in (400, 404):
                raise
            events = []  # no such room: answered like a room one is not in
        state = {(e.get("type"), e.get("state_key")): e for e in events}
        membership = ((state.get(("m.room.member", user_id)) or {}).get("content") or {}).get("membership")
        info = RoomInfo.from_state((state.get((PartaEventTypes.ROOM, "")) or {}).get("content"))
        now_ms = int(datetime.datetime.now(datetime.UTC).timestamp() * 1000)
        types = self.ctx.caps.call_member_state
        may_send_member = any(power_allows_state(events, user_id, t) for t in types)
        with self.ctx.store.begin() as tx:
            person = account_from_db(tx, user_id)
            org_settings = self.ctx.org_settings(tx, info.org) if info is not None and info.org else None
            # only a live membership of someone who may start calls here makes a running call
            running = call_running(events, user_id, now_ms, types, lambda sender: self.ctx.caps.may_start_call(
                account_from_db(tx, sender), info, org_settings))
        check(may_get_call_token(self.ctx.caps, person, info, membership, running, org_settings, may_send_member))
