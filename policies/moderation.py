"""Reports reach the school (pure): which organization's moderation room a Matrix report goes to, and
who may act on reports and read the audit log.

A report (Matrix Client-Server API "Reporting content": an event, ``POST /rooms/{roomId}/report/{eventId}``;
a room, MSC4151 ``POST /rooms/{roomId}/report``; a user, MSC4260 ``POST /users/{userId}/report``) goes
only to schools the *reporter* belongs to, so that a report never reaches another school:

- a report about a school room (its ``org.parta.room`` names an organization, or several for a
  network room) goes to the reporter's organizations among the room's; none when the reporter is
  not of the room's school (Synapse lets nobody report an event of a room they cannot see anyway);
- a report about a room people made (a direct chat, a group chat), or about a user, goes to the
  reporter's organizations that the reported person (the event's sender, the reported user) also
  belongs to, or, when they share none (an outsider wrote to a pupil; a room report), to all of the
  reporter's organizations; for a chat whose tag lists the organizations of its relationship
  (``orgs``, ``policies.people_chats.tag_orgs``), only those of them. Its ``org`` alone is no guide:
  chats tagged before ``orgs`` existed name the creator's first school, possibly not the chat's;
- a report by someone in no organization reaches no school (the operator still sees it in Synapse).

Acting on reports (``moderate``) and reading the audit log (``read_audit``) are actions of
``data/capabilities.yaml`` (the administrator and the head by default); the operator may do both.
"""

from __future__ import annotations

from collections.abc import Iterable

from .capabilities import ALLOW, Account, Capabilities, Decision, RoomInfo, deny
from .i18n import N_
from .people_chats import PEOPLE_KINDS

#: Kinds of report, as Synapse stores them (and as a report's id in Parta is prefixed: ``event:17``).
REPORT_KINDS = ("event", "room", "user")
#: What the administration can do about a report (``POST /organizations/{org}/moderation``).
ACTIONS = ("redact", "kick", "ban", "remove")


def report_schools(reporter: Account, room: RoomInfo | None, reported_orgs: Iterable[str] = ()) -> frozenset[str]:
    """The organizations whose moderation rooms receive a report.

    ``reporter``: the reporting account with its memberships; ``room``: the tag of the room the
    report is about (None: a user report, or a room with no Parta tag); ``reported_orgs``: the
    organizations of the reported person (the event's sender or the reported user). Returns a
    subset of the reporter's organizations (possibly empty).
    """
    mine = frozenset(reporter.memberships)
    if room is not None and room.kind in PEOPLE_KINDS:
        # routed by the people in it: an old tag's ``org`` may be the creator's other school
        mine = (mine & frozenset(room.orgs)) or mine
    elif room is not None and (room.org or room.orgs):
        return mine & (frozenset(room.orgs) | ({room.org} if room.org else frozenset()))
    shared = mine & frozenset(reported_orgs)
    return shared or mine


def may_moderate(caps: Capabilities, by: Account | None, org: str) -> Decision:
    """May ``by`` (None: the operator) act on reports in ``org`` (redact, kick, ban, remove)?"""
    if by is None or caps.can(by.memberships.get(org), "moderate"):
        return ALLOW
    return deny("may_not_moderate", N_("Only the school's administrator and head act on reports"))


def may_remove_from_shared_room(target: Account, org: str, room_orgs: tuple[str, ...]) -> Decision:
    """May ``org``'s administration kick or ban ``target`` from a network room of ``room_orgs``?

    In a room several schools share, each school takes out only its own people: a person of another
    of the room's schools (and of none of ``org``) goes through their own school or the operator, so
    one school cannot shut another's teacher out (issue: bans in shared network rooms). Users of no
    school listed (a partner server's staff) stay the room's schools' to moderate.
    """
    if org in target.memberships or not any(o in target.memberships for o in room_orgs if o != org):
        return ALLOW
    return deny("not_own_person", N_("{user} belongs to another school of this shared room; only their own "
                                     "school or the operator can take them out"), user=target.user_id)


def may_redact_in_shared_room(author: Account, org: str, room_orgs: tuple[str, ...]) -> Decision:
    """May ``org``'s administration redact a message ``author`` sent in a network room of ``room_orgs``?

    The same rule as :func:`may_remove_from_shared_room`, for messages: in a room several schools
    share, a school removes only its own people's messages (and those of users of no listed school);
    another school's teacher's message goes through their own school or the operator.
    """
    if org in author.memberships or not any(o in author.memberships for o in room_orgs if o != org):
        return ALLOW
    return deny("not_own_person", N_("{user} belongs to another school of this shared room; only their own "
                                     "school or the operator can remove their messages"), user=author.user_id)


def may_read_audit(caps: Capabilities, by: Account | None, org: str) -> Decision:
    """May ``by`` (None: the operator) read ``org``'s audit log?"""
    if by is None or caps.can(by.memberships.get(org), "read_audit"):
        return ALLOW
    return deny("may_not_read_audit", N_("Only the school's administrator and head read its audit log"))
