"""The module object Synapse instantiates (once per process, on every worker).

Each callback reads what it needs through :class:`synapse_module.lookups.Lookups`
(Synapse's own replicated caches), asks ``policies.capabilities`` for a decision, and
refuses with ``M_FORBIDDEN`` and a message that says what and why (in the module's
``language``), plus ``org.parta.reason`` and ``org.parta.messages`` ({ru, en}).

Callbacks (Synapse module API; "Spam checker callbacks", "Third party rules callbacks"):

========================================  ============================================
joins                                     ``user_may_join_room``
invites (local, federated, e-mail/phone)  ``user_may_invite``, ``federated_user_may_invite``,
                                          ``user_may_send_3pid_invite``
room creation and upgrades                ``on_create_room`` (refuse/rewrite), ``user_may_create_room``
aliases                                   ``user_may_create_room_alias``
room directory                            ``user_may_publish_room``, ``check_visibility_can_be_modified``
state changes                             ``user_may_send_state_event`` (delayed ones again when sent,
                                          in ``check_event_for_spam``)
messages in announcement rooms            ``check_event_for_spam``
user directory                            ``check_username_for_spam``
========================================  ============================================

The Parta bot is a server admin; Synapse already skips the join, invite and
create-room checks for it, and the other callbacks let it pass explicitly.

The journal bridge (``journal_bridge_user_id``, an application service's user) is in no
organization; only its exact user id gets its few rights (``Capabilities.bridge_may_join``,
``bridge_may_send``): joining the rooms it serves when the bot invited it, posting messages there.
It invites, kicks, bans, creates rooms, sends state and searches the directory never.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from synapse.api.errors import Codes, SynapseError
from synapse.module_api import NOT_SPAM, ModuleApi
from synapse.module_api.errors import ConfigError
from synapse.types import RoomAlias, UserProfile
from synapse.util.stringutils import parse_and_validate_server_name

from policies import federation, people_chats
from policies.capabilities import Account, Capabilities, Decision, RoomInfo, default_capabilities, deny
from policies.federation import FederationConfig
from policies.i18n import N_
from policies.polls import POLL_RESPONSE_TYPES, Poll, parse_poll
from policies.quiet_hours import URGENT_KEY
from policies.state_events import JOURNAL_ITEM_KEY, PartaEventTypes, journal_bridge_user_id

from . import hooks, secret_ballots
from .lookups import Lookups
from .media_access import MediaAccess
from .media_upload import MediaUpload, UploadConfig
from .metrics import Meter, StatsResource
from .new_events import NewEvents
from .quiet_hours import QuietHours
from .refusal_metrics import count_refusal
from .registrations import Registrations
from .room_reports import RoomReportsResource

PEOPLE_ROOMS = ("dm", "chat")
#: The journal bridge in a room that is not Parta's (it serves only school rooms).
BRIDGE_NOT_SERVED = deny("bridge_room_not_served", N_("The journal bridge does not serve this room"))
#: Directory decisions kept per process (requester, result) with the inputs they were made from.
MAX_FIND_MEMO = 20_000

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModuleConfig:
    """The module's ``config`` section: the bot's user id, the registry alias, the language; the
    journal bridge's user id (``journal_bridge_user_id``; default ``@parta_journal`` on the bot's
    server, as parta.yaml's default); the partner servers (``federation``: :class:`FederationConfig`;
    absent: no federation)."""

    bot_user_id: str
    registry_alias: str
    language: str = "ru"
    provisioning_url: str | None = None
    nudge_secret: str | None = None
    journal_bridge_user_id: str | None = None
    media: UploadConfig = UploadConfig()  # uploads: clamd, scan_unavailable (synapse_module.media_upload)
    federation: FederationConfig = FederationConfig()  # partner servers (policies.federation); none: off

    @property
    def bridge(self) -> str:
        """The journal bridge's user id."""
        return self.journal_bridge_user_id or journal_bridge_user_id(self.bot_user_id.split(":", 1)[-1])


class Refusal(SynapseError):
    """403 ``M_FORBIDDEN`` carrying a Parta decision."""

    def __init__(self, decision: Decision, language: str):
        super().__init__(403, decision.message(language), Codes.FORBIDDEN, additional_fields={
            "org.parta.reason": decision.reason, "org.parta.messages": decision.messages()})
        count_refusal(decision.reason)  # every refusal is made here just before it is raised


def _parse_federation(config: dict) -> FederationConfig:
    """The ``federation`` section (``policies.federation.FederationConfig``), each partner checked with
    Synapse's own server-name parser; raises ConfigError naming the bad setting."""
    if federation.CONFIG_KEY not in config:
        # an installation initialised before the section existed: Synapse's federation_domain_whitelist
        # may still list partners, but the module no longer reads Synapse's private config (fail closed)
        logger.warning("synapse_module.PartaModule: no federation section in the module config: federation "
                       "is off for Parta's rules; re-run parta init --force (with --federate-with) to write it")
    try:
        parsed = FederationConfig.parse(config.get(federation.CONFIG_KEY))
        for partner in parsed.partners:
            parse_and_validate_server_name(partner)
    except ValueError as e:
        raise ConfigError(f"synapse_module.PartaModule: {federation.CONFIG_KEY}: {e}") from e
    return parsed


class PartaModule:
    """Registers Parta's callbacks with Synapse (Synapse module API, "Writing a module")."""

    def __init__(self, config: ModuleConfig, api: ModuleApi, capabilities: Capabilities | None = None):
        self.config = config
        self.api = api
        self.bot = config.bot_user_id
        self.bridge = config.bridge
        # Synapse's server-notices user (parta init: server_notices), None when off: it creates each
        # person's notices room, where only it writes (quiet hours' notice in direct chats)
        self.notices: str | None = getattr(getattr(getattr(getattr(api, "_hs", None), "config", None),
                                                   "servernotices", None), "server_notices_mxid", None)
        self.caps = capabilities or default_capabilities()
        # partner servers (the module's federation section, parta init --federate-with); none: no federation
        self.partners: frozenset[str] = config.federation.partners
        self.look = Lookups(api, config.registry_alias)
        self._find_memo: OrderedDict[tuple[str, str], tuple[Account, Account, tuple, bool]] = OrderedDict()
        self.meter = Meter()
        m = self.meter.wrap
        # files stay in the rooms they were posted in (records on_new_event, wraps local downloads)
        # after-persistence work (media records, quiet-hours notices) without Synapse's read of the
        # room's whole state per event and process (new_events.py)
        self.new_events = NewEvents(api)
        self.media_access = MediaAccess(api, self.bot, lambda d: Refusal(d, self.config.language), m,
                                        new_events=self.new_events)
        # uploads: per-role limits, the kinds of files kept, virus scanning (the bot and the bridge: no limit)
        self.media_upload = MediaUpload(api, self.look, unlimited=frozenset({self.bot, self.bridge}),
                                        config=config.media, language=config.language, wrap=m)
        api.register_spam_checker_callbacks(**{name: m(name, getattr(self, name)) for name in (
            "user_may_join_room", "user_may_invite", "federated_user_may_invite", "user_may_send_3pid_invite",
            "user_may_create_room", "user_may_create_room_alias", "user_may_publish_room",
            "user_may_send_state_event", "check_event_for_spam", "check_username_for_spam")})
        api.register_web_resource("/_synapse/client/parta/stats", StatsResource(api, self.bot, self.meter))
        # room reports (MSC4151) have no Admin API: the service reads them here (reports reach the school)
        api.register_web_resource("/_synapse/client/parta/room_reports", RoomReportsResource(api, self.bot))
        # quiet hours: teachers' push actions held back outside office hours, the notice (on_new_event)
        self.quiet = QuietHours(api, self.look, self.caps, self.bot, config.language)
        self.new_events.add(m("quiet_notice", self.quiet.on_new_event), wants=self.quiet.awaits_notice)
        self.new_events.install(getattr(api, "_hs", None))  # None under a Mock(spec=ModuleApi) in unit tests
        self.registrations = Registrations(api, self.bot, config.provisioning_url, config.language,
                                           config.nudge_secret)
        api.register_third_party_rules_callbacks(**{name: m(name, getattr(self, name)) for name in (
            "on_create_room", "check_visibility_can_be_modified")})
        hs = getattr(api, "_hs", None)  # None under a Mock(spec=ModuleApi) in unit tests
        # the installation's own LiveKit (Synapse's matrix_rtc.transports, written by parta init and
        # given to clients by /rtc/transports): call memberships name no other (may_send_call_member)
        rtc = getattr(getattr(hs, "config", None), "matrix_rtc", None)
        self.rtc_transports: tuple[dict, ...] = tuple(getattr(rtc, "transports", None) or ())
        if hs is not None:
            hooks.install(hs, bot=self.bot, caps=self.caps, person=self.look.person, settings=self.look.settings,
                          refusal=lambda d: Refusal(d, self.config.language),
                          login_names_taken=self.registrations.taken_like, language=config.language,
                          may_post_here=self.may_post_here, bridge=self.bridge)
            # secret ballots: others' answers to an undisclosed poll reach no pupil or parent, nor
            # their notifications and pushes
            secret_ballots.install(secret_ballots.SecretBallots(api, self.look, self.caps, self.bot))
            self.quiet.install(hs)

    @staticmethod
    def parse_config(config: dict) -> ModuleConfig:
        """Validate the ``config`` mapping; raises ConfigError naming the missing key, or the bad
        ``federation`` setting (a partner that is no server name: Matrix spec, Appendices, "Server Name").
        Without a ``federation`` section federation is off (fail closed; logged once per process)."""
        try:
            return ModuleConfig(bot_user_id=config["bot_user_id"], registry_alias=config["registry_alias"],
                                language=config.get("language", "ru"),
                                provisioning_url=config.get("provisioning_url"),
                                nudge_secret=config.get("nudge_secret"),
                                journal_bridge_user_id=config.get("journal_bridge_user_id"),
                                media=UploadConfig.parse(config.get("media")),
                                federation=_parse_federation(config))
        except (KeyError, TypeError) as e:
            raise ConfigError(f"synapse_module.PartaModule: missing setting {e}") from e

    async def may_post_here(self, user_id: str, room_id: str) -> bool:
        """Whether ``user_id`` may post text in ``room_id`` (False only in read-only school rooms)."""
        room = await self.look.room(room_id)
        if room is None or room.kind in PEOPLE_ROOMS:
            return True
        t = self.caps.templates.kinds.get(room.kind)
        if t is None or t.posting is None:
            return True
        settings = (await self.look.org(room.org or "")).get("settings")
        return bool(self.caps.may_post(await self.look.person(user_id), room, "m.room.message", settings))

    def _check(self, decision: Decision) -> None:
        if not decision.allowed:
            raise Refusal(decision, self.config.language)

    # -- joins and invites -------------------------------------------------------------
    async def user_may_join_room(self, user_id: str, room_id: str, is_invited: bool):
        """Joins: Parta rooms admit whom the templates and the matrix say (``may_join``)."""
        if user_id == self.bot:
            return NOT_SPAM
        room = await self.look.room(room_id)
        if user_id == self.bridge:
            if room is None:
                raise Refusal(BRIDGE_NOT_SERVED, self.config.language)
            settings = (await self.look.org(room.org or "")).get("settings") if room.org else None
            self._check(self.caps.bridge_may_join(room, is_invited, settings))
            return NOT_SPAM
        if room is None:
            return NOT_SPAM  # not a Parta room: Synapse's join rules (invite only, see on_create_room)
        if await self._partner_network_room(room_id, room):
            self._check(federation.may_take_part_in_partner_room(await self.look.person(user_id)))
            return NOT_SPAM
        self._check(self.caps.may_join(await self.look.person(user_id), room, is_invited))
        if room.kind in PEOPLE_ROOMS:
            # an invitation is no ticket: the relationship may have ended since (a teacher no longer
            # confirmed), and nobody reads what was written to them meanwhile
            await self._check_still_together(user_id, room_id, joining=True)
        return NOT_SPAM

    async def user_may_invite(self, inviter: str, invitee: str, room_id: str):
        """Invites: who may invite, and whether everyone in a chat may be with the invitee."""
        if inviter == self.bot or invitee == self.bot:
            return NOT_SPAM  # the bot is invited into group chats so that chat invite links work
        if inviter == self.bridge:
            self._check(self.caps.bridge_refusal("invite"))
        if not self.api.is_mine(inviter):
            # an invitation from another server: Synapse asks here after federated_user_may_invite, which decided
            return NOT_SPAM
        room = await self.look.room(room_id)
        if not self.api.is_mine(invitee):
            # another server's user: network rooms only, partners only (policies.federation)
            self._check(federation.may_invite_remote(await self.look.person(inviter), invitee, room, self.partners))
            return NOT_SPAM
        inviter_p, invitee_p = await self.look.person(inviter), await self.look.person(invitee)
        if room is not None and await self._partner_network_room(room_id, room):
            self._check(federation.may_take_part_in_partner_room(inviter_p))
            self._check(federation.may_take_part_in_partner_room(invitee_p))
            return NOT_SPAM
        members: list[Account] = []
        if room is None or room.kind in PEOPLE_ROOMS:
            members = [await self.look.person(u) for u in await self.look.member_ids(room_id)
                       if u not in (inviter, invitee, self.bot)]
        settings = await self.look.settings(inviter_p, invitee_p, *members)
        self._check(self.caps.may_invite(inviter_p, invitee_p, room, members, settings))
        return NOT_SPAM

    async def _partner_network_room(self, room_id: str, room: RoomInfo) -> bool:
        """Whether ``room`` is a network room made on a partner server (its creator is the partner's)."""
        if room.kind != "network" or not self.partners:
            return False
        create = (await self.api.get_room_state(room_id, [("m.room.create", "")])).get(("m.room.create", ""))
        return create is not None and not self.api.is_mine(create.sender) \
            and federation.server_of(create.sender) in self.partners

    async def federated_user_may_invite(self, event: Any):
        """Invites from other servers: none without partner servers; with them, only into network
        rooms and only for confirmed staff (``policies.federation.may_receive_remote_invite``, reading
        the invitation's stripped state, Synapse's ``unsigned.invite_room_state``)."""
        if not self.partners:
            self._check(deny("federation_off", N_("Invitations from other servers are not accepted here")))
        state = (event.unsigned or {}).get("invite_room_state") or []
        self._check(federation.may_receive_remote_invite(await self.look.person(event.state_key), event.sender,
                                                         state if isinstance(state, list) else [], self.partners))
        return NOT_SPAM

    async def user_may_send_3pid_invite(self, inviter: str, medium: str, address: str, room_id: str):
        """Invites by e-mail or phone: never (nobody is found by a contact detail)."""
        self._check(deny("no_3pid_invites", N_("Invitations by e-mail or phone number are not possible; invite "
                                               "people by their account or with a Parta link")))

    # -- rooms -------------------------------------------------------------------------
    async def on_create_room(self, requester: Any, request_content: dict, is_requester_admin: bool) -> None:
        """Refuse what would open a room or fake the school's structure; rewrite the rest.

        Refused: public rooms, invites by e-mail/phone, spaces, Parta's or space-link state,
        open join rules / world-readable history / guest access, aliases in a school's
        namespace. Rewritten: ``m.federate: false``; encryption stripped where the
        organization keeps it off; power-level overrides dropped for non-staff; the room
        is tagged ``org.parta.room`` as a direct chat or a group chat.
        """
        user_id = requester.user.to_string()
        if user_id == self.bot or (user_id == self.notices and is_requester_admin):
            # the notices user: Synapse's own notices room for one person, untagged (no Parta room,
            # no bot; tagged as a chat, the contact rules would keep the person out). Synapse skips
            # the spam checks of its invites, refuses to invite it and lets no one but it post there.
            return
        if user_id == self.bridge:
            self._check(self.caps.bridge_refusal("create_room"))
        person = await self.look.person(user_id)
        if request_content.get("visibility") == "public" or request_content.get("preset") == "public_chat":
            self._check(deny("no_public_rooms", N_("Rooms on this server are never public: only invited school "
                                                   "participants can join")))
        if request_content.get("invite_3pid"):
            await self.user_may_send_3pid_invite(user_id, "", "", "")
        creation = dict(request_content.get("creation_content") or {})
        if creation.get("type") == "m.space":
            self._check(deny("no_spaces", N_("Spaces are made by Parta from the school's structure")))
        for text in (request_content.get("name"), request_content.get("topic")):
            self._check(self.caps.check_room_text(text))
        alias = request_content.get("room_alias_name")
        if alias is not None:
            self._check(self.caps.may_create_alias(person, str(alias)))
        settings = await self.look.settings(person)
        initial_state = []
        for ev in request_content.get("initial_state") or []:
            if not isinstance(ev, dict):
                continue
            etype, content = str(ev.get("type") or ""), ev.get("content") or {}
            if etype == "m.room.encryption" and not self.caps.may_encrypt(person, settings):
                continue
            self._check(self.caps.may_put_initial_state(person, etype, content if isinstance(content, dict) else {},
                                                        settings))
            initial_state.append(ev)
        creation["m.federate"] = False
        request_content["creation_content"] = creation
        staff = any(self.caps.can(m, "create_chat") for m in person.memberships.values())
        if not staff:
            request_content.pop("power_level_content_override", None)
        invites = request_content.get("invite") or []
        kind = "dm" if request_content.get("is_direct") and len(invites) == 1 else "chat"
        if kind == "chat" and self.bot not in invites:
            request_content["invite"] = [*invites, self.bot]  # so that chat invite links can bring people in
        # the chat belongs to the schools of the relationship that allows it, not to the creator's first
        # school (a parent of A who teaches in B writes to A's teacher as A's parent): policies.people_chats
        org, orgs = people_chats.tag_orgs(person, [await self.look.person(u) for u in invites
                                                   if isinstance(u, str) and u != self.bot])
        tag = RoomInfo(kind=kind, org=org, orgs=orgs, creator=user_id)
        initial_state.append({"type": PartaEventTypes.ROOM, "state_key": "", "content": tag.to_state()})
        request_content["initial_state"] = initial_state

    async def user_may_create_room(self, user_id: str, room_config: dict):
        """Who may create: staff create chats; others a direct chat with someone they may reach.

        Also called for room upgrades: the school's own rooms are upgraded only by Parta.
        """
        if user_id == self.bot:
            return NOT_SPAM
        if user_id == self.bridge:
            self._check(self.caps.bridge_refusal("create_room"))
        person = await self.look.person(user_id)
        predecessor = (room_config.get("creation_content") or {}).get("predecessor")
        if predecessor is not None:
            # Synapse copies the old room's state into the new one without Parta's tag (org.parta.room):
            # an upgraded chat would be out of every rule of people's chats. Only the bot upgrades.
            self._check(deny("no_upgrades", N_("Only Parta upgrades rooms here")))
        for u in room_config.get("invite") or []:
            if isinstance(u, str) and not self.api.is_mine(u):  # people's chats are never shared with other servers
                self._check(federation.may_invite_remote(person, u, None, self.partners))
        invitees = [await self.look.person(u) for u in room_config.get("invite") or []
                    if isinstance(u, str) and u != self.bot]
        settings = await self.look.settings(person, *invitees)
        is_direct = bool(room_config.get("is_direct"))
        self._check(self.caps.may_create(person, is_direct, invitees, settings))
        kind = "dm" if is_direct and len(invitees) == 1 else "chat"
        for invitee in invitees:  # refuse before the room exists rather than leave an empty room
            self._check(self.caps.may_invite(person, invitee, RoomInfo(kind=kind, creator=user_id), [], settings))
        return NOT_SPAM

    async def user_may_create_room_alias(self, user_id: str, room_alias: RoomAlias):
        """Room addresses are Parta's: only the bot creates them (``may_create_alias``)."""
        if user_id == self.bot:
            return NOT_SPAM
        self._check(self.caps.may_create_alias(await self.look.person(user_id), room_alias.localpart))
        return NOT_SPAM

    async def user_may_publish_room(self, user_id: str, room_id: str):
        """The public room directory stays empty."""
        self._check(deny("no_directory", N_("Rooms of this server are never published in the room directory")))

    async def check_visibility_can_be_modified(self, room_id: str, state_events: Any, new_visibility: str) -> bool:
        """Second guard for the directory: nothing becomes public."""
        return new_visibility != "public"

    # -- state and messages ------------------------------------------------------------
    async def user_may_send_state_event(self, user_id: str, room_id: str, event_type: str, state_key: str,
                                        content: dict):
        """State changes through ``PUT /rooms/{id}/state`` (``may_send_state``)."""
        if user_id == self.bot:
            return NOT_SPAM
        if user_id == self.bridge:
            self._check(self.caps.bridge_refusal("state"))
        person = await self.look.person(user_id)
        room = await self.look.room(room_id)
        settings = await self.look.settings(person)
        self._check(self.caps.may_send_state(person, room, event_type, content, settings))
        if room is not None and room.kind in PEOPLE_ROOMS and event_type != "m.room.member":
            await self._check_still_together(user_id, room_id)
        if event_type in self.caps.call_member_state:
            org_settings = settings.get(room.org) if room is not None and room.org else None
            # a running call is a live membership of someone who may start one here: pupils alone
            # keep no lesson going
            others = await self.look.live_call_members(room_id, self.caps.call_member_state, exclude=state_key)
            running = False
            for other in sorted(others - {user_id}):
                if self.caps.may_start_call(await self.look.person(other), room, org_settings):
                    running = True
                    break
            self._check(self.caps.may_send_call_member(person, room, state_key, content, running, org_settings,
                                                       self.rtc_transports))
        return NOT_SPAM

    async def check_event_for_spam(self, event: Any):
        """Messages and other non-state events, in the room's current state of relationships.

        - Encrypted events only where the room turned encryption on (the school keeps it off
          so that it can moderate; an encrypted event elsewhere would hide from it).
        - People's chats: the sender must still be allowed to be with everyone joined
          (``may_contact``): a relationship that ended (a teacher no longer confirmed, a parent
          removed, a class changed) ends the writing at once.
        - Announcement rooms: only the posting roles post; others react (with an emoji) and
          answer polls.
        - A delayed state event (MSC4140; Synapse marks it with ``internal_metadata.delay_id``) is
          judged again by :meth:`user_may_send_state_event` when it is sent: Synapse asked that
          callback only when it was scheduled (``RoomStateEventRestServlet.on_PUT``), and
          ``DelayedEventsHandler._send_event`` asks only this one. An immediate state event was
          judged by the servlet a moment ago and is not judged twice.

        One cached state read per event for school rooms; non-Parta rooms return at once.
        """
        if event.sender == self.bot:
            return NOT_SPAM
        if event.is_state() and isinstance(getattr(event.internal_metadata, "delay_id", None), str):
            # the rules of the moment it is sent (a running lesson, a role), not of its scheduling
            await self.user_may_send_state_event(event.sender, event.room_id, event.type, event.state_key,
                                                 event.content)
        if event.type == "m.room.redaction":
            await self._check_redaction(event)
        room = await self.look.room(event.room_id)
        if event.sender == self.bridge:
            if event.is_state():  # state past user_may_send_state_event (e.g. createRoom's)
                self._check(self.caps.bridge_refusal("state"))
            if room is None:
                raise Refusal(BRIDGE_NOT_SERVED, self.config.language)
            self._check(self.caps.bridge_may_send(room, event.type))
            return NOT_SPAM
        if room is None:
            return NOT_SPAM
        await self._check_own_edit_and_record(event)
        await self._check_urgent(event, room)
        if event.type == "m.room.encrypted" and not await self.look.encrypted(event.room_id):
            self._check(deny("encryption_off", N_("This room is not encrypted: the school keeps its rooms readable "
                                                  "so that it can keep them safe; send the message unencrypted")))
        if room.kind in PEOPLE_ROOMS:
            await self._check_still_together(event.sender, event.room_id)
            return NOT_SPAM
        t = self.caps.templates.kinds.get(room.kind)
        if t is None or t.posting is None:
            return NOT_SPAM
        person = await self.look.person(event.sender)
        settings = (await self.look.org(room.org or "")).get("settings")
        poll = await self._answered_poll(event) if event.type in POLL_RESPONSE_TYPES else None
        self._check(self.caps.may_post(person, room, event.type, settings, event.content, poll))
        return NOT_SPAM

    async def _answered_poll(self, event: Any) -> Poll | None:
        """The poll a poll response refers to (``m.relates_to.event_id``), read from Synapse's event
        cache; None when that is no poll start of the same room, or a redacted one (its answers
        were pruned). ``may_post`` lets a read-only member name only its answer ids."""
        relates = (event.content or {}).get("m.relates_to")
        poll_id = relates.get("event_id") if isinstance(relates, dict) else None
        if not isinstance(poll_id, str):
            return None
        start = await self.api._store.get_event(poll_id, allow_none=True)
        if start is None or start.room_id != event.room_id:
            return None
        return parse_poll({"type": start.type, "content": start.content, "sender": start.sender,
                           "event_id": start.event_id, "origin_server_ts": start.origin_server_ts})

    async def _check_own_edit_and_record(self, event: Any) -> None:
        """In school rooms, nobody passes for the journal bridge: the journal's structured record
        (``org.parta.journal.item``) is the bridge's alone, and an edit (``m.replace``, spec "Event
        replacements") of someone else's message is refused, not left to each client to ignore (a
        pupil's "* homework cancelled" over the bridge's homework). One event read per edit only."""
        content = event.content or {}
        new = content.get("m.new_content")
        if JOURNAL_ITEM_KEY in content or (isinstance(new, dict) and JOURNAL_ITEM_KEY in new):
            self._check(deny("journal_item_bridge_only", N_("Only the school's journal posts journal records")))
        relates = content.get("m.relates_to")
        if not isinstance(relates, dict) or relates.get("rel_type") != "m.replace":
            return
        original = await self.api._store.get_event(str(relates.get("event_id") or ""), allow_none=True)
        if original is None or original.room_id != event.room_id or original.sender != event.sender:
            self._check(deny("edit_not_own", N_("Only the author of a message can edit it")))

    async def _check_urgent(self, event: Any, room: RoomInfo) -> None:
        """An urgent message (``org.parta.urgent``, which notifies teachers in their quiet hours,
        ``policies.quiet_hours``) only from the administration of the room's organization
        (``send_urgent``), in a people's chat of every recipient's organization
        (``policies.people_chats.may_send_urgent``); an edit cannot add it either."""
        content = event.content or {}
        new = content.get("m.new_content")
        if URGENT_KEY not in content and not (isinstance(new, dict) and URGENT_KEY in new):
            return
        person = await self.look.person(event.sender)
        recipients = []
        if people_chats.is_people_chat(room):  # each person's own school's administration only
            recipients = [await self.look.person(u) for u in await self.look.joined_users(event.room_id)
                          if u not in (event.sender, self.bot)]
        self._check(people_chats.may_send_urgent(self.caps, person, room, recipients))

    async def _check_still_together(self, sender: str, room_id: str, joining: bool = False) -> None:
        """Refuse ``sender`` in a people's chat unless they may still be with every joined member
        (``joining``: the refusal of a join, ``chat_not_allowed``)."""
        me = await self.look.person(sender)
        others = [await self.look.person(u) for u in await self.look.joined_users(room_id)
                  if u not in (sender, self.bot)]
        if not others:
            return
        settings = await self.look.settings(me, *others)
        for other in others:
            d = self.caps.may_contact(me, other, settings)
            if not d and joining:
                self._check(deny("chat_not_allowed", N_("You cannot join this chat: {why}"), why=d))
            if not d:
                self._check(deny("chat_no_longer_allowed", N_("You can no longer write in this chat: {why}"), why=d))

    async def _check_redaction(self, event: Any) -> None:
        """Nobody but the bot redacts state: a redacted ``org.parta.room`` or power-levels event
        would change who may enter a room."""
        target_id = event.redacts or (event.content or {}).get("redacts")
        if not target_id:
            return
        target = await self.api._store.get_event(target_id, allow_none=True, allow_rejected=True)
        if target is not None and target.is_state():
            self._check(deny("no_state_redaction", N_("The settings of a room cannot be redacted; change them "
                                                      "instead if you may")))

    async def check_username_for_spam(self, user_profile: UserProfile, requester_id: str = "") -> bool:
        """User directory: True hides a person. One finds exactly the people one may reach.

        Runs once per search result, so it returns early for the bot, outsiders and people
        with no organization in common, before any settings are read.
        """
        candidate = user_profile.get("user_id", "")
        if candidate in (self.bot, self.bridge, self.notices):
            return True
        if not requester_id or requester_id == self.bot:
            return False
        if requester_id == self.bridge:
            return True  # the bridge routes by the provisioning API's directory, never by search
        # once per search result: the caches usually answer at once, so no coroutine is needed
        requester = self.look.person_now(requester_id) or await self.look.person(requester_id)
        if not requester.memberships:
            return True  # people in no organization find nobody
        other = self.look.person_now(candidate) or await self.look.person(candidate)
        shared = sorted(requester.memberships.keys() & other.memberships.keys())
        if not shared:
            return True
        entries = tuple([self.look.org_now(o) or await self.look.org(o) for o in shared])
        # people type a name letter by letter: the same pairs come back search after search. The
        # parsed entries are the same objects while their state events are unchanged (a change
        # parses anew), and the memo holds them, so an identity match means the same inputs.
        key = (requester_id, candidate)
        memo = self._find_memo.get(key)
        if memo is not None and memo[0] is requester and memo[1] is other and memo[2] == entries:
            return memo[3]
        hidden = not self.caps.may_find(requester, other, {o: e.get("settings") or {} for o, e in zip(
            shared, entries, strict=True)})
        self._find_memo[key] = (requester, other, entries, hidden)
        if len(self._find_memo) > MAX_FIND_MEMO:
            self._find_memo.popitem(last=False)
        return hidden
