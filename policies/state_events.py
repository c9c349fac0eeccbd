"""Parta's own state event types and the shapes of their content: the one home of this contract.

The provisioner writes these events as the Parta bot; the Synapse module reads them on every
request. Only the bot has the power level to send them (room templates give ``org.parta.*``
state the bot's level), so their content is the school's word, never a user's.

======================  ==================  =================================================
type                    where, state key    content
======================  ==================  =================================================
``org.parta.org``       registry room,      :class:`OrgEntry`: the organization's space, name
                        organization id     and settings
``org.parta.person``    registry room,      :class:`PersonEntry`: ``{"orgs": {org id:``
                        ``_@user:server``   :class:`MembershipEntry` ``}}``
``org.parta.room``      every Parta room,   :class:`RoomTag`: what the room is (kind,
                        ``""``              organization, class; see ``capabilities.RoomInfo``)
``org.parta.role``      the school space,   :class:`RoleEntry`: a member's role, shown to
                        ``_@user:server``   clients; ``{}`` once the person has left
``org.parta.office_``   registry room,      a teacher's own office hours ``{"days": [1..7],
``hours``               ``_@user:server``   "from": "HH:MM", "to": "HH:MM"}`` (``policies.quiet_hours``);
                                            ``{}``: the organization's default
``org.parta.retention`` an archived class   ``{"year": "2025/26", "purged_before": ms,
                        room, ``""``        "archived_months": int}``: its history was purged
                                            (``spaces_provisioner.ops.retention``)
======================  ==================  =================================================

Not Parta's type but Parta's key: the journal's link in class rooms is a room widget
(``im.vector.modular.widgets``, state key :data:`JOURNAL_WIDGET`), written by the bot from the
organization's ``journal_url`` (``policies.templates.Templates.journal_widget``).

Sources: Matrix Client-Server API, "Room events" / "State events" (custom event types use the
reversed-domain namespace); "Authorization rules" (a state key starting with ``@`` may only be
sent by that user, hence the ``_`` prefix, as MSC3401 does).
"""

from __future__ import annotations

from typing import TypedDict


class PartaEventTypes:
    """The ``org.parta.*`` event types (plain strings, like Synapse's ``EventTypes``)."""

    ORG = "org.parta.org"
    PERSON = "org.parta.person"
    ROOM = "org.parta.room"
    ROLE = "org.parta.role"
    #: a teacher's own office hours (registry room, state key ``_@user``; ``policies.quiet_hours``)
    OFFICE_HOURS = "org.parta.office_hours"
    RETENTION = "org.parta.retention"


#: Room widgets as Element reads them (MSC1236): one state event per widget, the state key its id.
WIDGET_TYPE = "im.vector.modular.widgets"
#: The state key (widget id) of the electronic journal's link in class rooms.
JOURNAL_WIDGET = "org.parta.journal"

#: The key of the journal's structured record in the bridge's messages (``bridge/render.py``): the
#: bridge's alone (the module refuses it from anyone else, ``journal_item_bridge_only``).
JOURNAL_ITEM_KEY = "org.parta.journal.item"

#: The journal bridge's login name: ``@parta_journal:SERVER`` unless parta.yaml's
#: ``journal_bridge_user_id`` (and the module's config key of the same name) says otherwise.
JOURNAL_BRIDGE_LOCALPART = "parta_journal"


def journal_bridge_user_id(server_name: str) -> str:
    """The journal bridge's default user id on ``server_name``: ``@parta_journal:server_name``."""
    return f"@{JOURNAL_BRIDGE_LOCALPART}:{server_name}"


#: The registry room's alias localpart: ``#parta.registry:SERVER`` (the module's config names it).
REGISTRY_ALIAS_LOCALPART = "parta.registry"


def user_state_key(user_id: str) -> str:
    """State key for per-person state: ``_@alice:server``.

    A state key that starts with ``@`` may only be sent by that user (Matrix
    authorization rules, all room versions), so the bot prefixes ``_`` (as MSC3401 does).
    """
    return "_" + user_id


def user_of_state_key(state_key: str) -> str:
    """The user id of a per-person state key (the inverse of :func:`user_state_key`)."""
    return state_key[1:] if state_key.startswith("_") else state_key


class OrgEntry(TypedDict):
    """``org.parta.org`` content: the space's room id, the name, the organization's own settings
    (only those its application sets; defaults come from ``policies.org_settings``)."""

    space: str
    name: str
    settings: dict


class MembershipEntry(TypedDict):
    """One organization in ``org.parta.person``: the role (``policies.model.Role`` value),
    whether the school confirmed it, class ids (a parent's: the children's classes), the
    children's user ids, and the classes whose class teacher (homeroom teacher) the person is."""

    role: str
    confirmed: bool
    classes: list[str]
    children: list[str]
    homeroom: list[str]


class PersonEntry(TypedDict):
    """``org.parta.person`` content: every organization the account belongs to."""

    orgs: dict[str, MembershipEntry]


#: ``org.parta.room`` content. ``kind`` is a room kind of ``rooms.yaml`` (``school_space``,
#: ``class_chat``...), ``dm``/``chat`` for people's chats, or ``network``; ``class`` the class id,
#: ``orgs`` the organizations of a network room, ``creator`` the person who made a people's chat;
#: a diary's ``student`` (the pupil's roster person id) and ``members`` (the user ids the bot
#: placed: the pupil's and the pupil's guardians' accounts; nobody else may join).
#: Built and read by ``policies.capabilities.RoomInfo``.
RoomTag = TypedDict("RoomTag", {
    "kind": str, "org": "str | None", "class": "str | None", "class_title": "str | None",
    "org_name": "str | None", "orgs": "list[str]", "creator": "str | None", "student": "str | None",
    "members": "list[str]"}, total=False)


class RoleEntry(TypedDict, total=False):
    """``org.parta.role`` content: ``{"role", "confirmed"}``, or ``{}`` for a former member."""

    role: str
    confirmed: bool
