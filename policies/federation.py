"""Federation between school servers: who of another server may be in which room (issue 13).

Pure: decisions from the room's Parta description, the people and the operator's partner list
(:class:`FederationConfig`, the ``federation`` section of the module's own config, written by
``parta init --federate-with`` together with Synapse's ``federation_domain_whitelist``); the module
(``synapse_module.module``) applies them. The rules (docs/ARCHITECTURE.md, "Federation"):

- Only cross-school network rooms (kind ``network``) are shared with other servers; every other
  Parta room is created with ``m.federate: false`` and people's chats are rewritten to it, so Synapse
  refuses any remote join there (Matrix spec, Client-Server API, ``m.room.create``: ``m.federate``).
- A local person invites a user of another server only into a network room, only when that server
  is a partner, and only as the staff of one of the room's organizations.
- An invitation from another server reaches a local person only when the invitation's stripped
  state (Matrix spec, Server-Server API, "Inviting to a room": ``invite_room_state``) describes a
  network room that federates, and the local person is confirmed staff of one of their schools:
  the partner server vouches for its own staff, this server for its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .capabilities import ALLOW, Account, Decision, RoomInfo, default_capabilities, deny
from .i18n import N_
from .state_events import PartaEventTypes

#: A remote user anywhere but a network room.
REMOTE_OUTSIDER = "remote_user_outsider"
#: A server that is not among the partners.
NOT_A_PARTNER = "federation_not_partner"
#: An invitation from another server into anything but a network room, or to a non-staff person.
REMOTE_INVITE = "federation_invite_refused"


#: The key of the module's config section (``modules[].config.federation``).
CONFIG_KEY = "federation"


@dataclass(frozen=True)
class FederationConfig:
    """The ``federation`` section of Parta's module config: the partner servers, e.g.::

        modules:
          - module: synapse_module.PartaModule
            config:
              federation:
                partners: [school2.example, "127.0.0.1:8448"]

    ``parta init --federate-with`` writes the same list here and into Synapse's
    ``federation_domain_whitelist`` (Synapse refuses every other server before the module is asked;
    the module's rules need the list too). Fails closed: a module config without the section
    (an installation initialised before the section existed: re-run ``parta init --force`` with its
    ``--federate-with``), or with an empty list, means no partners, so federation is off for the
    module (every federated invitation refused with ``federation_off``, no remote invitee admitted)
    whatever Synapse's list says.
    """

    partners: frozenset[str] = frozenset()

    @property
    def enabled(self) -> bool:
        """Whether any server is a partner."""
        return bool(self.partners)

    @staticmethod
    def parse(section: object) -> FederationConfig:
        """Validate the section (None, i.e. absent: no federation). Raises ValueError naming the bad
        setting: a section that is not a mapping, an unknown key, ``partners`` not a list of non-empty
        strings without spaces. Whether each is a valid server name (Matrix spec, Appendices, "Server
        Name") is checked by the module with Synapse's own parser."""
        if section is None:
            return FederationConfig()
        if not isinstance(section, Mapping):
            raise ValueError("federation must be a mapping with partners: [SERVER, ...]")
        unknown = set(section) - {"partners"}
        if unknown:
            raise ValueError(f"unknown federation settings {sorted(unknown)}")
        partners = section.get("partners")
        if partners is None:
            return FederationConfig()
        if not isinstance(partners, list) or not all(
                isinstance(p, str) and p and p == p.strip() and " " not in p for p in partners):
            raise ValueError("federation.partners must be a list of server names (host[:port])")
        return FederationConfig(frozenset(partners))


def server_of(user_id: str) -> str:
    """The server name of a Matrix user id (``@local:server[:port]``; Matrix spec, Appendices, "User Identifiers")."""
    return user_id.split(":", 1)[1] if ":" in user_id else ""


def is_confirmed_staff(person: Account) -> bool:
    """Whether ``person`` is staff (not an unconfirmed teacher) of at least one of their organizations."""
    return any(person.is_staff_in(o) and m.cap_role != "teacher_unconfirmed" for o, m in person.memberships.items())


def may_invite_remote(inviter: Account, invitee_id: str, room: RoomInfo | None,
                      partners: Iterable[str]) -> Decision:
    """May local ``inviter`` invite ``invitee_id`` (a user of another server) into ``room``?

    Only into a network room, by the staff of one of its organizations, and only users of a partner server.
    """
    if room is None or room.kind != "network":
        return deny(REMOTE_OUTSIDER, N_("{user} is on another server: only cross-school network rooms are shared "
                                        "with partner servers"), user=invitee_id)
    if server_of(invitee_id) not in set(partners):
        return deny(NOT_A_PARTNER, N_("{server} is not a partner server of this installation"),
                    server=server_of(invitee_id))
    if not any(inviter.is_staff_in(o) for o in room.orgs):
        return deny("may_not_invite", N_("Only the staff of its organizations can invite into this cross-school room"))
    return ALLOW


def may_receive_remote_invite(invitee: Account, sender_id: str, invite_state: Iterable[Mapping],
                              partners: Iterable[str]) -> Decision:
    """May an invitation from ``sender_id`` (another server) reach local ``invitee``?

    ``invite_state``: the invitation's stripped state events (``{"type", "state_key", "content"}``).
    """
    if server_of(sender_id) not in set(partners):
        return deny(NOT_A_PARTNER, N_("{server} is not a partner server of this installation"),
                    server=server_of(sender_id))
    kind, federates = None, True
    for ev in invite_state:
        if not isinstance(ev, Mapping) or not isinstance(ev.get("content"), Mapping):
            continue
        if ev.get("type") == PartaEventTypes.ROOM and ev.get("state_key", "") == "":
            kind = ev["content"].get("kind")
        elif ev.get("type") == "m.room.create":
            federates = ev["content"].get("m.federate", True) is not False
    if kind != "network" or not federates:
        return deny(REMOTE_INVITE, N_("Invitations from other servers are accepted only into cross-school "
                                      "network rooms"))
    if not is_confirmed_staff(invitee):
        return deny(REMOTE_INVITE, N_("Only the confirmed staff of a school can be invited from another server"))
    return ALLOW


def may_take_part_in_partner_room(person: Account) -> Decision:
    """May local ``person`` join, or be invited into, a network room a partner server made?

    Its organizations are the partner's, so the room's own rule (staff of its organizations) cannot
    apply here: this server vouches for its own confirmed staff, as the partner does for its.
    """
    if is_confirmed_staff(person):
        return ALLOW
    return deny(REMOTE_INVITE, N_("Only the confirmed staff of a school take part in cross-school rooms of "
                                  "partner servers"))


def may_stay_in_network_room(person: Account, room: RoomInfo, partners_room: bool) -> Decision:
    """May local ``person``, joined to network room ``room``, stay there (the reconciler's check after a
    removal or a role change)?

    A network room follows the person's current role like every school room: in a room of this server,
    confirmed staff of one of its organizations (``Capabilities.may_join``); in a partner's room
    (``partners_room``: its ``m.room.create`` sender is on another server), confirmed staff of any school
    here (``may_take_part_in_partner_room``), since each server vouches for its own people.
    """
    if partners_room:
        return may_take_part_in_partner_room(person)
    return default_capabilities().may_join(person, room, is_invited=True)
