"""The capability matrix: who may join, invite, create, post, change and find what.

Pure functions over :class:`Account` and :class:`RoomInfo` (built from the registry and
room state by the Synapse module) and the data of ``policies/data/capabilities.yaml``
and ``rooms.yaml``. Every decision is a :class:`Decision` with a reason code and a
message (an English msgid, translated to Russian or English on demand).

Sources: docs/ARCHITECTURE.md "Roles and default powers" (the role table) and "Room kinds";
issue 3 for child safety in direct chats.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ruamel.yaml import YAML

from . import names, org_settings, polls
from .i18n import LANGUAGES, N_, gettext_
from .model import Role
from .templates import Templates, default_templates

DATA = Path(__file__).parent / "data" / "capabilities.yaml"
STAFF_ROLES = frozenset({"admin", "head", "teacher", "teacher_unconfirmed"})



@dataclass(frozen=True)
class Membership:
    """A person's place in one organization (from the registry's ``org.parta.person``).

    ``classes``: classes the person studies in or teaches, or (for a parent) the classes
    of their children; ``children``: user ids; ``homeroom``: classes whose class teacher
    the person is.
    """

    org: str
    role: Role
    confirmed: bool = False
    classes: frozenset[str] = frozenset()
    children: frozenset[str] = frozenset()
    homeroom: frozenset[str] = frozenset()

    @property
    def cap_role(self) -> str:
        """The capability role: a teacher is ``teacher`` only once confirmed."""
        if self.role is Role.TEACHER and not self.confirmed:
            return "teacher_unconfirmed"
        return self.role.value


@dataclass(frozen=True)
class Account:
    """An account on the homeserver and its memberships (``{org id: Membership}``; empty for an
    outsider), as the registry says. Not a roster person (that is ``policies.model.Person``)."""

    user_id: str
    memberships: Mapping[str, Membership] = field(default_factory=dict)

    @classmethod
    def from_registry(cls, user_id: str, content: Mapping | None) -> Account:
        """Build from ``org.parta.person`` content ``{"orgs": {org: {...}}}`` (None: outsider)."""
        orgs = {}
        for org, m in ((content or {}).get("orgs") or {}).items():
            try:
                orgs[org] = Membership(
                    org=org, role=Role(m["role"]), confirmed=bool(m.get("confirmed")),
                    classes=frozenset(m.get("classes") or ()), children=frozenset(m.get("children") or ()),
                    homeroom=frozenset(m.get("homeroom") or ()))
            except (KeyError, ValueError, TypeError):
                continue  # a broken entry grants nothing
        return cls(user_id, orgs)

    def is_staff_in(self, org: str) -> bool:
        m = self.memberships.get(org)
        return m is not None and m.cap_role in STAFF_ROLES

    def roles(self) -> set[str]:
        """Capability roles over all organizations."""
        return {m.cap_role for m in self.memberships.values()}


@dataclass(frozen=True)
class RoomInfo:
    """What ``org.parta.room`` says of a room.

    ``kind`` is a kind of rooms.yaml, or ``dm``/``chat``/``network`` for rooms people
    (or the operator) create; ``orgs`` lists the organizations of a network room; a diary's
    ``student`` is the pupil's roster person id and ``members`` the user ids the bot placed in it
    (the pupil's and the guardians' accounts), the only people who may join it.
    """

    kind: str
    org: str | None = None
    class_id: str | None = None
    class_title: str | None = None
    org_name: str | None = None
    orgs: tuple[str, ...] = ()
    creator: str | None = None
    student: str | None = None
    members: tuple[str, ...] = ()

    @classmethod
    def from_state(cls, content: Mapping | None) -> RoomInfo | None:
        """Build from the state content; None when the room is not Parta's (no such event).

        Present but unreadable content (e.g. a redacted event) gives kind ``unknown``, which
        every rule treats as closed: a damaged tag must never open a room.
        """
        if content is None:
            return None
        if not isinstance(content.get("kind"), str):
            return cls(kind="unknown")
        members = content.get("members")
        if members is not None and not (isinstance(members, list) and all(isinstance(m, str) for m in members)):
            return cls(kind="unknown")  # a diary whose member list is unreadable admits nobody
        return cls(kind=content["kind"], org=content.get("org"), class_id=content.get("class"),
                   class_title=content.get("class_title"), org_name=content.get("org_name"),
                   orgs=tuple(content.get("orgs") or ()), creator=content.get("creator"),
                   student=content.get("student"), members=tuple(members or ()))

    def to_state(self) -> dict:
        """The ``org.parta.room`` content (a diary's ``student`` and ``members`` only when set)."""
        state = {"kind": self.kind, "org": self.org, "class": self.class_id, "class_title": self.class_title,
                 "org_name": self.org_name, "orgs": list(self.orgs), "creator": self.creator}
        if self.student is not None or self.members:
            state.update(student=self.student, members=list(self.members))
        return state


@dataclass(frozen=True)
class Decision:
    """``allowed`` with a ``reason`` code and a message (msgid + parameters) for refusals."""

    allowed: bool
    reason: str = "ok"
    msgid: str = ""
    params: Mapping[str, object] = field(default_factory=dict)

    def message(self, language: str | None = None) -> str:
        """The message in ``language`` (or the current language); nested decisions in the
        parameters (a reason inside a reason) are translated into the same language."""
        if not self.msgid:
            return ""
        values = {k: v.message(language) if isinstance(v, Decision) else v for k, v in self.params.items()}
        return gettext_(self.msgid, language).format(**values)

    def messages(self) -> dict[str, str]:
        """The message in every language: ``{"ru": ..., "en": ...}``."""
        return {lang: self.message(lang) for lang in LANGUAGES}

    def __bool__(self) -> bool:
        return self.allowed


ALLOW = Decision(True)


def deny(reason: str, msgid: str, **params) -> Decision:
    """A refusal with a reason code and a message; a parameter may itself be a Decision."""
    return Decision(False, reason, msgid, {k: v if isinstance(v, Decision) else str(v) for k, v in params.items()})


class Capabilities:
    """The matrix: ``capabilities.yaml`` plus the room templates (for who belongs where)."""

    def __init__(self, data: Mapping, templates: Templates, badge: str = names.BADGE_DEFAULT):
        self.templates = templates
        # operators may still override defaults in their own capabilities data
        self.default_settings: dict = org_settings.effective(data.get("settings"))
        self.actions: dict = dict(data["actions"])
        self.contact_rules: list[dict] = [dict(r) for r in data["contact"]]
        # the rules by (one's capability role, the other's), both ways round: the directory asks
        # once per search result, so a pair's rules are found in one dict lookup
        self._pairs: dict[tuple[str, str], list[tuple[str, str | None, bool]]] = {}
        roles = ("admin", "head", "teacher", "teacher_unconfirmed", "student", "parent")
        for rule in self.contact_rules:
            for b_role in (roles if rule["b"] == "any" else (rule["b"],)):
                self._pairs.setdefault((rule["a"], b_role), []).append((rule["when"], rule.get("setting"), False))
                self._pairs.setdefault((b_role, rule["a"]), []).append((rule["when"], rule.get("setting"), True))
        self.bot_only_state = frozenset(data["bot_only_state"])
        self.room_settings_state = frozenset(data["room_settings_state"])
        self.initial_state_types = frozenset(data["initial_state_types"])
        self.allowed_values: dict = {k: dict(v) for k, v in data["allowed_values"].items()}
        self.announcement_open_events = frozenset(data["announcement_open_events"])
        self.open_event_relations: dict = dict(data.get("open_event_relations") or {})
        self.open_event_keys: dict[str, frozenset[str]] = {
            k: frozenset(v) for k, v in (data.get("open_event_keys") or {}).items()}
        self.open_event_inner_keys: dict[str, dict[str, frozenset[str]]] = {
            k: {key: frozenset(inner) for key, inner in v.items()}
            for k, v in (data.get("open_event_inner_keys") or {}).items()}
        self.call_member_state = frozenset(data.get("call_member_state") or ())
        bridge = data.get("journal_bridge") or {}
        self.journal_bridge_events = frozenset(bridge.get("events") or ())
        self.badge = badge

    # -- settings and plain actions ----------------------------------------------------
    def settings(self, org_settings: Mapping | None) -> dict:
        """An organization's settings over the defaults."""
        return {**self.default_settings, **(org_settings or {})}

    def can(self, m: Membership | None, action: str, org_settings: Mapping | None = None,
            class_id: str | None = None) -> bool:
        """Whether a membership's role may perform ``action`` of capabilities.yaml.

        ``class_teacher`` in an action's list means a confirmed teacher of ``class_id``.
        """
        if m is None:
            return False
        rule = self.actions[action]
        roles = set(rule["roles"]) if isinstance(rule, Mapping) else set(rule)
        if isinstance(rule, Mapping):
            settings = self.settings(org_settings)
            for setting, extra in (rule.get("setting_roles") or {}).items():
                if settings.get(setting):
                    roles |= set(extra)
        if m.cap_role in roles:
            return True
        return ("class_teacher" in roles and m.cap_role == "teacher" and class_id is not None
                and class_id in m.classes)

    # -- joining the school's own rooms ------------------------------------------------
    def matches(self, selector: str, m: Membership, class_id: str | None) -> bool:
        """Whether one person matches a member selector of rooms.yaml (see policies.placement)."""
        role = m.cap_role
        in_class = class_id is not None and class_id in m.classes
        return {
            "admin": role == "admin",
            "head": role == "head",
            "teacher": role == "teacher",
            "teacher_unconfirmed": role == "teacher_unconfirmed",
            "student": role == "student",
            "parent": role == "parent",
            "class_teacher": role == "teacher" and in_class,
            "homeroom_teacher": role == "teacher" and class_id is not None and class_id in m.homeroom,
            "class_student": role == "student" and in_class,
            "class_parent": role == "parent" and in_class,
        }.get(selector, False)

    def may_join(self, person: Account, room: RoomInfo, is_invited: bool) -> Decision:
        """May ``person`` join (or be placed in) ``room``?

        School rooms: whoever the kind's ``members`` or ``grants`` select. People's
        chats: by invitation only (the invitation was checked). Network rooms: staff of
        the listed organizations.
        """
        if room.kind in ("dm", "chat"):
            return ALLOW if is_invited else deny("invite_only", N_("This chat is by invitation only"))
        if room.kind == "network":
            if any(person.is_staff_in(o) and person.memberships[o].cap_role != "teacher_unconfirmed"
                   for o in room.orgs):
                return ALLOW
            return deny("network_staff_only", N_("This cross-school room is only for the confirmed staff "
                                                 "of its organizations"))
        t = self.templates.kinds.get(room.kind)
        if t is None:
            return deny("unknown_room", N_("This room is closed"))
        m = person.memberships.get(room.org or "")
        names = dict(org_name=room.org_name or room.org or "", class_title=room.class_title or room.class_id or "")
        if m is None:
            return deny("not_in_organization", N_("This room belongs to {org_name}; only its participants can join"),
                        **names)
        if t.scope == "person":
            # a diary: exactly the accounts the bot listed (the pupil, the pupil's guardians); no
            # role opens it, the school's administration included
            if person.user_id in room.members:
                return ALLOW
            return deny("diary_family_only", t.join_refusal or N_("This room is closed"), **names)
        selectors = set(t.members) | set(t.grants)
        if any(self.matches(s, m, room.class_id) for s in selectors):
            return ALLOW
        return deny(f"not_for_{room.kind}", t.join_refusal or N_("This room is closed"), **names)

    # -- the journal bridge --------------------------------------------------------------
    # The module calls these for the bridge's user id only (exact match: a look-alike name is
    # just another account); the bridge is in no organization, so every other rule refuses it.
    def bridge_may_join(self, room: RoomInfo, is_invited: bool, org_settings: Mapping | None) -> Decision:
        """May the journal bridge join ``room``? Only rooms of the kinds it serves
        (``journal_bridge`` levels in rooms.yaml), of an organization that has it on, and only
        invited (by the bot: nobody else may invite it)."""
        if room.kind not in self.templates.journal_bridge_kinds():
            return deny("bridge_room_not_served", N_("The journal bridge does not serve this room"))
        if self.templates.journal_bridge_level(room.kind, self.settings(org_settings)) <= 0:
            return deny("journal_bridge_off", N_("{org_name} does not use the journal bridge"),
                        org_name=room.org_name or room.org or "")
        if not is_invited:
            return deny("bridge_invite_only", N_("The journal bridge joins a room only when Parta invites it"))
        return ALLOW

    def bridge_may_send(self, room: RoomInfo, event_type: str) -> Decision:
        """May the journal bridge send an event of ``event_type`` in ``room``? Messages
        (``journal_bridge.events`` of capabilities.yaml: notices and edits are ``m.room.message``)
        in the rooms it serves, past the posting roles of announcement rooms; nothing else."""
        if room.kind not in self.templates.journal_bridge_kinds():
            return deny("bridge_room_not_served", N_("The journal bridge does not serve this room"))
        if event_type not in self.journal_bridge_events:
            return deny("bridge_messages_only", N_("The journal bridge only posts messages"))
        return ALLOW

    @staticmethod
    def bridge_refusal(action: str) -> Decision:
        """What the journal bridge never does: ``action`` is ``invite`` (kicks and bans too),
        ``create_room`` or ``state``. (The directory shows it nobody: the module hides every
        result, so there is no refusal to give.)"""
        msgids = {
            "invite": N_("The journal bridge cannot invite, remove or ban anyone"),
            "create_room": N_("The journal bridge cannot create rooms: Parta makes the rooms it posts in"),
            "state": N_("The journal bridge cannot change room settings or state"),
        }
        return deny(f"bridge_no_{action}", msgids[action])

    # -- people together in chats ------------------------------------------------------
    def _relation(self, when: str, a: Membership, b: Membership, b_user: str, a_user: str) -> bool:
        match when:
            case "always":
                return True
            case "teaches":
                return bool(a.classes & b.classes)
            case "teaches_child":
                return bool(a.classes & b.classes)  # a parent's classes are their children's classes
            case "classmates":
                return bool(a.classes & b.classes)
            case "guardian":
                return a_user in b.children or b_user in a.children
            case "same_class":
                return bool(a.classes & b.classes)
        raise KeyError(f"capabilities.yaml: unknown relation {when!r}")

    def may_contact(self, a: Account, b: Account, settings: Mapping[str, Mapping]) -> Decision:
        """May ``a`` and ``b`` be together in a direct chat or a group chat people create?

        Symmetric. ``settings`` maps organization ids to their settings. Refuses with
        ``no_shared_organization`` across organizations, ``child_safety`` when a student
        is involved, ``not_allowed`` otherwise.
        """
        if a.user_id == b.user_id:
            return ALLOW
        shared = a.memberships.keys() & b.memberships.keys()
        for org in shared:
            ma, mb = a.memberships[org], b.memberships[org]
            own = settings.get(org) or {}
            for when, setting, flipped in self._pairs.get((ma.cap_role, mb.cap_role), ()):
                if setting is not None and not own.get(setting, self.default_settings.get(setting)):
                    continue
                # the rule reads "a when b": ``flipped`` when ``a`` of the rule is the other person
                x, ux, y, uy = (mb, b.user_id, ma, a.user_id) if flipped else (ma, a.user_id, mb, b.user_id)
                if self._relation(when, x, y, uy, ux):
                    return ALLOW
        if not shared:
            return deny("no_shared_organization",
                        N_("{user} is not in your school: people can only chat within their own school"),
                        user=b.user_id)
        roles = a.roles() | b.roles()
        if "student" in roles:
            return deny("child_safety", N_("{user} cannot be reached: a student chats only with own teachers, "
                                           "own parents, the school's administration and (where the school "
                                           "allows it) classmates"), user=b.user_id)
        if "parent" in roles:
            return deny("parent_scope", N_("{user} cannot be reached: a parent chats with the teachers of own "
                                           "children, the school's administration and the parents of the "
                                           "same class"), user=b.user_id)
        return deny("not_allowed", N_("{user} cannot be reached from your account"), user=b.user_id)

    def may_find(self, requester: Account, candidate: Account, settings: Mapping[str, Mapping]) -> bool:
        """The user directory shows exactly the people one may reach (docs/ARCHITECTURE.md,
        "Roles and default powers")."""
        return bool(self.may_contact(requester, candidate, settings))

    # -- invitations -------------------------------------------------------------------
    def may_invite(self, inviter: Account, invitee: Account, room: RoomInfo | None,
                   members: Iterable[Account], settings: Mapping[str, Mapping]) -> Decision:
        """May ``inviter`` invite ``invitee`` into ``room`` (whose current members are ``members``)?

        School rooms: the inviter needs ``invite_to_chat`` in the room's organization and the
        invitee must be someone who may join. People's chats: everyone in the room must be
        allowed to be with the invitee (child safety), and only ``invite_to_chat`` roles
        invite into group chats; a direct chat holds two people.
        """
        members = [m for m in members if m.user_id not in (invitee.user_id,)]
        if room is not None and room.kind not in ("dm", "chat", "network"):
            m = inviter.memberships.get(room.org or "")
            if not self.can(m, "invite_to_chat", settings.get(room.org or "")):
                return deny("may_not_invite", N_("Only teachers and the school's administration can invite "
                                                 "people into school rooms"))
            joinable = self.may_join(invitee, room, is_invited=False)
            if not joinable:
                return deny(joinable.reason, N_("{user} cannot be invited: {why}"), user=invitee.user_id,
                            why=joinable)
            return ALLOW
        if room is not None and room.kind == "network":
            if not any(inviter.is_staff_in(o) for o in room.orgs):
                return deny("may_not_invite", N_("Only the staff of its organizations can invite into "
                                                 "this cross-school room"))
            return self.may_join(invitee, room, is_invited=False)
        if room is not None and room.kind == "dm":
            others = [m for m in members if m.user_id != inviter.user_id]
            if others:
                return deny("direct_chat_full", N_("A direct chat is for two people; create a group chat "
                                                   "to talk with more"))
        elif inviter.memberships and not any(
                self.can(m, "invite_to_chat", settings.get(org)) for org, m in inviter.memberships.items()
                if org in invitee.memberships or not inviter.memberships.keys() & invitee.memberships.keys()):
            # the power is the organization's: a parent who teaches at another school invites
            # nobody of the child's school into a chat
            return deny("may_not_invite", N_("Only teachers and the school's administration can invite "
                                             "people into chats"))
        for member in [inviter, *members]:
            d = self.may_contact(member, invitee, settings)
            if not d:
                if member.user_id == inviter.user_id:
                    return d
                return deny(d.reason, N_("{user} cannot join this chat because of who is in it: {why}"),
                            user=invitee.user_id, why=d)
        return ALLOW

    # -- creating rooms ----------------------------------------------------------------
    def may_create(self, person: Account, is_direct: bool, invitees: list[Account],
                   settings: Mapping[str, Mapping]) -> Decision:
        """May ``person`` create a room (a direct chat when ``is_direct`` with one invitee)?

        People in no organization may create a room but can invite nobody into it
        (``may_contact`` needs a shared organization).
        """
        if not person.memberships:
            return ALLOW
        if any(self.can(m, "create_chat") for m in person.memberships.values()):
            return ALLOW
        if is_direct and len(invitees) == 1 and any(self.can(m, "create_direct_chat")
                                                    for m in person.memberships.values()):
            return self.may_contact(person, invitees[0], settings)
        return deny("may_not_create_chat", N_("Only teachers and the school's administration can create group "
                                              "chats; you can start a direct chat with one person you may "
                                              "write to"))

    # -- state events ------------------------------------------------------------------
    def may_send_state(self, person: Account, room: RoomInfo | None, event_type: str,
                       content: Mapping, settings: Mapping[str, Mapping]) -> Decision:
        """May ``person`` (never the bot: the caller lets it pass) send this state event?

        Refuses Parta's structural state, values that would open a room (public, knock,
        world-readable, guests), room settings of school rooms for anyone but their
        administrators, and encryption in people's chats where the organization keeps it off.
        """
        if event_type in self.bot_only_state:
            return deny("bot_only_state", N_("Only Parta itself can change {event_type}: it describes the "
                                             "school's structure"), event_type=event_type)
        text_field = {"m.room.name": "name", "m.room.topic": "topic"}.get(event_type)
        if text_field is not None:
            d = self.check_room_text(content.get(text_field))
            if not d:
                return d
        for fieldname, allowed in self.allowed_values.get(event_type, {}).items():
            value = content.get(fieldname)
            if value not in allowed:
                return deny("closed_rooms", N_("A room here cannot be made '{value}': rooms stay closed to "
                                               "everyone but their invited participants"), value=value)
        people_room = room is None or room.kind in ("dm", "chat")
        if room is not None and not people_room and event_type in self.room_settings_state:
            m = person.memberships.get(room.org or "")
            if room.kind == "network" or not self.can(m, "change_room_settings"):
                return deny("room_settings_admin_only", N_("Only the school's administrators can change the "
                                                           "settings of this room"))
        if event_type == "m.room.encryption" and people_room and not self.may_encrypt(person, settings):
            return deny("encryption_off", N_("End-to-end encryption is off for chats of your school, so that "
                                             "the school can keep them safe"))
        return ALLOW

    def may_put_initial_state(self, person: Account, event_type: str, content: Mapping,
                              settings: Mapping[str, Mapping]) -> Decision:
        """May ``person`` put this event in createRoom's ``initial_state`` (Matrix spec, client-server
        API "POST /_matrix/client/v3/createRoom")?

        Only the types of ``initial_state_types`` (name, topic, avatar, encryption, history,
        guest access, join rule), then as :meth:`may_send_state` decides. Refuses the rest with
        ``initial_state_not_allowed``: Synapse writes these events past every invite and
        membership check, so an ``m.room.member`` there would invite anyone under any name.
        """
        if event_type not in self.initial_state_types and event_type not in self.bot_only_state:
            return deny("initial_state_not_allowed", N_("A new room cannot start with {event_type}: invite people "
                                                        "with the invitation list, after the room is made"),
                        event_type=event_type or '""')
        return self.may_send_state(person, None, event_type, content, settings)

    def check_room_text(self, text: object) -> Decision:
        """A room's name or topic must not show the teacher's badge (a chat named
        "Иванова Мария ✓" would pass for the teacher in clients that show room names)."""
        if not isinstance(text, str) or not text:
            return ALLOW
        try:
            names.check_not_badge(text, self.badge)
        except names.NameRefused:
            return deny("badge_imitation", N_("Room names and topics cannot show the confirmed teacher's mark"))
        return ALLOW

    def may_send_call_member(self, person: Account, room: RoomInfo | None, state_key: str, content: Mapping,
                             call_running: bool, settings: Mapping | None = None,
                             transports: Iterable[Mapping] = ()) -> Decision:
        """Group-call membership (MSC3401/MSC4143 state, ``call_member_state``): only one's own
        entry (the state key names the sender); a membership (not a leave, :func:`call_member_leave`)
        says when it ends (``expires``/``expires_ts``) and names no LiveKit service but this
        installation's (``transports``: Synapse's ``matrix_rtc.transports``, :func:`call_foci_foreign`),
        so that no joiner's client hands its OpenID token to another server; and only ``start_call``
        roles may be the first in a room (:meth:`may_start_call`). Refusal reasons:
        ``call_member_not_own``, ``call_focus_foreign``, ``call_member_no_expiry``, ``may_not_start_call``."""
        if not call_member_key_own(person.user_id, state_key):
            return deny("call_member_not_own", N_("You can only join a call as yourself"))
        if call_member_leave(content):
            return ALLOW
        if call_foci_foreign(content, transports):
            return deny("call_focus_foreign", N_("A call here goes only through this school server's own call "
                                                 "service; update the app or ask the administrator"))
        if not call_member_bounded(content):
            return deny("call_member_no_expiry", N_("A call membership must say when it ends (expires); update "
                                                    "the app"))
        if call_running or self.may_start_call(person, room, settings):
            return ALLOW
        return deny("may_not_start_call", N_("Only teachers and the school's administration start calls here; you "
                                             "can join once one is running"))

    def may_delay_state(self, user_id: str, event_type: str, state_key: str, content: Mapping | None) -> Decision:
        """May ``user_id`` schedule this state event for later (MSC4140 delayed events,
        ``PUT /rooms/{id}/state/{type}/{key}?org.matrix.msc4140.delay=``)? Only their own call
        membership's leave (:func:`call_member_leave`, under their own key): what Element Call and
        matrix-js-sdk schedule so that a dead client leaves the call. Any other state is sent now, when
        the rules of that moment decide (a membership scheduled during a lesson would otherwise arrive
        after it, alone: a lesson started by a pupil). Refusal: ``delayed_state_leave_only``."""
        if event_type in self.call_member_state and call_member_key_own(user_id, state_key) \
                and call_member_leave(content):
            return ALLOW
        return deny("delayed_state_leave_only", N_("Only leaving a call can be scheduled for later; send this "
                                                   "change now"))

    def may_start_call(self, person: Account, room: RoomInfo | None, settings: Mapping | None = None) -> bool:
        """Whether ``person`` may be the first in the room's call (start a lesson): anyone in people's
        own chats and rooms that are not Parta's, else the ``start_call`` roles of the room's
        organization. Only their live memberships make a call "running" that others may join."""
        if room is None or room.kind in ("dm", "chat"):
            return True
        return self.can(person.memberships.get(room.org or ""), "start_call", settings)

    def may_encrypt(self, person: Account, settings: Mapping[str, Mapping]) -> bool:
        """Whether chats ``person`` creates may be end-to-end encrypted (organization setting)."""
        if not person.memberships:
            return True
        return all(self.settings(settings.get(o)).get("encryption_in_chats") for o in person.memberships)

    # -- messages ----------------------------------------------------------------------
    def is_open_event(self, event_type: str, content: Mapping | None) -> bool:
        """An event anyone may send in an announcement room: a reaction to something, a poll answer...
        carrying only its own keys (``open_event_keys``), and inside its objects only theirs
        (``open_event_inner_keys``: a poll answer's relation and response object)."""
        if event_type not in self.announcement_open_events:
            return False
        allowed = self.open_event_keys.get(event_type)
        if allowed is not None and set(content or {}) - allowed:
            return False  # a body or formatted text riding on a reaction or a poll answer
        for key, inner in self.open_event_inner_keys.get(event_type, {}).items():
            value = (content or {}).get(key)
            if key in (content or {}) and (not isinstance(value, Mapping) or set(value) - inner):
                return False  # text nested inside the answer ("body" in the response object)
        rel = self.open_event_relations.get(event_type)
        if rel is None:
            return True
        relates = (content or {}).get("m.relates_to") or {}
        return isinstance(relates, Mapping) and relates.get("rel_type") == rel and bool(relates.get("event_id"))

    def may_post(self, person: Account, room: RoomInfo, event_type: str, settings: Mapping | None,
                 content: Mapping | None = None, poll: polls.Poll | None = None) -> Decision:
        """May ``person`` send an event of ``event_type`` (with ``content``) in ``room`` (announcement rooms)?

        Those who may not post may still react (with an emoji: a reaction key is not a way to
        post text) and answer polls, with the answer ids of ``poll``: the poll the answer refers to,
        as the caller read it (None: no readable poll, so only an answer naming nothing passes);
        otherwise ``poll_answer_not_in_poll``."""
        t = self.templates.kinds.get(room.kind)
        if t is None or t.posting is None:
            return ALLOW
        if self.is_open_event(event_type, content):
            m = person.memberships.get(room.org or "")
            posts = self.can(m, t.posting, settings, room.class_id)
            if event_type == "m.reaction" and not posts:
                key = ((content or {}).get("m.relates_to") or {}).get("key")
                if not is_emoji_key(key):
                    return deny("reaction_not_emoji", N_("A reaction here is an emoji; write text where you may "
                                                         "post"))
            if event_type in polls.POLL_RESPONSE_TYPES and not posts and not polls.answers_only(content or {}, poll):
                return deny("poll_answer_not_in_poll", N_("A poll answer here names only the poll's own answers; "
                                                          "write text where you may post"))
            return ALLOW
        m = person.memberships.get(room.org or "")
        if self.can(m, t.posting, settings, room.class_id):
            return ALLOW
        return deny("announcements_read_only", N_("Only the school's administration and the teachers in charge "
                                                  "can post here; you can react and answer polls"))

    # -- aliases -----------------------------------------------------------------------
    def may_create_alias(self, person: Account, localpart: str) -> Decision:
        """Room addresses (``#alias:server``) are Parta's: people make none.

        A closed school publishes nothing, and every room is reached by invitation or a Parta
        link; an address made by a person could claim a school's name in another letter case or
        with look-alike letters, claim a school that is not approved yet, or point at a school
        room. So the bot alone creates aliases (the school's rooms at approval)."""
        return deny("no_aliases", N_("Room addresses (#{alias}) are given only to the school's rooms, by Parta; "
                                     "to bring people into a chat, invite them or share a Parta link"),
                    alias=localpart)


#: Unicode categories an emoji (with its modifiers, joiners and variation selectors) is made of.
_EMOJI_CATEGORIES = frozenset({"So", "Sk", "Mn", "Me", "Cf"})
#: A reaction key longer than this is text, not an emoji (the longest family emoji is 11 code points).
MAX_REACTION_KEY = 16


def is_emoji_key(key: object) -> bool:
    """Whether a reaction ``key`` is an emoji (or a short run of them), not text.

    Letters, digits, spaces and punctuation make text; keycap emoji (a digit or #, *, then
    U+FE0F U+20E3) are the one exception.
    """
    if not isinstance(key, str) or not key or len(key) > MAX_REACTION_KEY:
        return False
    for i, ch in enumerate(key):
        cat = unicodedata.category(ch)
        if cat in _EMOJI_CATEGORIES:
            continue
        if ch in "0123456789#*" and key[i + 1: i + 3] in ("\ufe0f\u20e3", "\u20e3"):
            continue  # keycap
        return False
    return True


#: The longest a call membership counts after it was sent, whatever its ``expires`` says: matrix-js-sdk
#: sends ``expires`` of 4 hours (``DEFAULT_EXPIRE_DURATION``) and re-sends its membership before then
#: (every hour in current versions, with ``expires`` growing from ``created_ts``), so an hour's margin
#: over 4 hours keeps every lesson going and stops a forgotten or forged one within 5 hours.
MAX_CALL_MEMBER_MS = 5 * 3600 * 1000
#: Keys of a membership that name LiveKit services (MSC4195 transports, MSC4143 legacy and MSC3401 forms).
_FOCUS_LIST_KEYS = ("foci_preferred", "foci_active", "rtc_transports")
#: The keys of a LiveKit focus that name a server (the token service, the SFU).
_FOCUS_URL_KEYS = ("livekit_service_url", "url")


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def call_member_key_own(user_id: str, state_key: str) -> bool:
    """Whether a call membership's state key is ``user_id``'s own: the user id (MSC3401), or it with a
    device (``{user}_{device}``, ``_{user}_{device}``, MSC4143 / matrix-js-sdk)."""
    return state_key == user_id or state_key.startswith(user_id + "_") or state_key.startswith("_" + user_id)


def call_member_leave(content: Mapping | None) -> bool:
    """Whether a call membership state content is a leave: empty (MSC4143), only a
    ``leave_reason`` (matrix-js-sdk's leave and its delayed leave), or MSC3401's empty ``memberships``."""
    if not content:
        return True
    rest = set(content) - {"leave_reason"}
    return not rest or (rest == {"memberships"} and content.get("memberships") == [])


def _foci(content: Mapping) -> list[object]:
    """Every focus (transport) object a membership names: ``focus_active``, ``foci_preferred``,
    ``rtc_transports``, and those of each MSC3401 ``memberships`` entry (``foci_active``)."""
    found: list[object] = []
    memberships = content.get("memberships")
    entries = [content] + [m for m in memberships if isinstance(m, Mapping)] if isinstance(memberships, list) \
        else [content]
    for entry in entries:
        if "focus_active" in entry:
            found.append(entry["focus_active"])
        for key in _FOCUS_LIST_KEYS:
            value = entry.get(key)
            if value is None:
                continue
            found.extend(value if isinstance(value, list) else [value])
    return found


def call_foci_foreign(content: Mapping, transports: Iterable[Mapping]) -> bool:
    """Whether a call membership names a focus other than this installation's LiveKit.

    ``transports``: Synapse's ``matrix_rtc.transports`` (what ``parta init`` writes and clients
    are given by ``GET /_matrix/client/unstable/org.matrix.msc4143/rtc/transports``). Every focus
    must be an object of ``type`` ``livekit`` whose ``livekit_service_url`` and ``url`` (when
    present) are one of the transports' (trailing ``/`` ignored); a focus that only selects
    (``{"type": "livekit", "focus_selection": "oldest_membership"}``) names none. With no transports
    configured every named service is foreign. matrix-js-sdk (``CallMembership``) lets a joiner's
    client use the oldest member's preferred focus, so one foreign URL would collect the OpenID
    tokens of everyone who joins.
    """
    allowed: dict[str, set[str]] = {k: set() for k in _FOCUS_URL_KEYS}
    for t in transports:
        for key in _FOCUS_URL_KEYS:
            if isinstance(t.get(key), str):
                allowed[key].add(t[key].rstrip("/"))
    for focus in _foci(content):
        if not isinstance(focus, Mapping) or focus.get("type") != "livekit":
            return True
        for key in _FOCUS_URL_KEYS:
            if key in focus and (not isinstance(focus[key], str) or focus[key].rstrip("/") not in allowed[key]):
                return True
    return False


def call_member_bounded(content: Mapping) -> bool:
    """Whether a membership says when it ends: a positive ``expires`` (ms after ``created_ts`` or
    the event's ``origin_server_ts``, MSC4143) or an ``expires_ts``, on it or on each of MSC3401's
    ``memberships``."""
    memberships = content.get("memberships")
    if isinstance(memberships, list):
        return bool(memberships) and all(isinstance(m, Mapping) and call_member_bounded(m) for m in memberships)
    expires = _int(content.get("expires"))
    return (expires is not None and expires > 0) or _int(content.get("expires_ts")) is not None


def call_member_live(content: Mapping | None, origin_server_ts: int, now_ms: int) -> bool:
    """Whether a group-call membership state event (MSC4143 / MSC3401) still counts.

    Empty content (or a leave: :func:`call_member_leave`) means the person left. ``expires`` (ms,
    MSC4143) counts from ``created_ts`` or the event's ``origin_server_ts``; ``expires_ts`` is
    absolute; the legacy MSC3401 form lists ``memberships`` with their own. An entry with no
    expiry never counts, and none counts longer than :data:`MAX_CALL_MEMBER_MS` after it was sent
    (``created_ts`` and ``expires`` are the sender's to choose).
    """
    if call_member_leave(content) or now_ms >= origin_server_ts + MAX_CALL_MEMBER_MS:
        return False
    assert content is not None
    memberships = content.get("memberships")
    if isinstance(memberships, list):
        return any(isinstance(m, Mapping) and call_member_live(m, origin_server_ts, now_ms) for m in memberships)
    expires_ts = _int(content.get("expires_ts"))
    if expires_ts is not None:
        return now_ms < expires_ts
    expires = _int(content.get("expires"))
    if expires is not None:
        start = _int(content.get("created_ts"))
        return now_ms < (origin_server_ts if start is None else start) + expires
    return False


@functools.cache
def default_capabilities() -> Capabilities:
    """The matrix shipped in ``policies/data/capabilities.yaml`` with the default templates."""
    return Capabilities(YAML(typ="safe").load(DATA.read_text(encoding="utf-8")), default_templates())
