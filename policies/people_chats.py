"""Which schools a people's chat belongs to (pure): the organizations of the people in it, not of its creator.

People make two kinds of rooms themselves (``org.parta.room`` kinds ``dm``: a direct chat, ``chat``: a group
chat). Each is allowed by a relationship inside one school (a parent and the child's teacher in school A, two
colleagues of school B, ``Capabilities.may_contact``), and a person may belong to several schools: a parent in
school A often teaches in school B. The chat is the record of the school of that relationship, so every rule
that asks "whose chat is it" (quiet hours, urgent messages, export, retention, reports, moderation) answers
from the organizations its people share, never from the creator's first school alone:

- :func:`tag_orgs`: what ``on_create_room`` writes into a new chat's tag (``orgs``: the organizations the
  creator shares with every invitee; ``org``: one of them, for readers that want one). A tag only narrows:
  :func:`chat_orgs` never gives an organization the tag does not list.
- :func:`chat_orgs`: the organizations a chat belongs to now: those of which every person who has been in
  it (joined, invited, left or banned; the bot and accounts of no organization aside) is a member. A chat
  between a pupil of A and her parent, who also teaches in B, is A's record: the pupil is nobody in B, so B
  neither exports nor purges her words. Chats tagged before ``orgs`` existed (``org``: the creator's first
  staff organization, possibly B) are judged by their people alone, so they keep working and lose the
  wrong school.
- :func:`rule_orgs`: the organizations whose settings decide quiet hours for a sender in a room (for a
  people's chat: every organization of the sender; the caller then asks each recipient's membership
  there, so only organizations the two share count).
- :func:`may_send_urgent`: an urgent message (``org.parta.urgent``) in a people's chat reaches each person
  only from their own school's administration.

Why "every person", not "at least one party": exporting or purging a conversation discloses or destroys
the words of everyone in it; a school may do that only to people it is responsible for. With "at least one
party", school B could export a pupil of A because her mother teaches in B. People of no organization (an
account whose school removed it) do not count either way: they hold no school's rights and no school
answers for them, and the chat stays the record of the others' schools.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .capabilities import ALLOW, Account, Capabilities, Decision, RoomInfo, deny
from .i18n import N_

#: The kinds of rooms people make (direct chats and group chats); every other kind is the school's.
PEOPLE_KINDS = ("dm", "chat")
#: Memberships of someone who has been in a chat (their words or presence are part of its record).
RECORD_MEMBERSHIPS = ("join", "invite", "leave", "ban")
#: The refusal of an urgent message to someone of another school (``_check_urgent``).
URGENT_ADMIN_ONLY = N_("Only the school's administration can send urgent messages that reach teachers outside "
                       "their office hours")


def is_people_chat(room: RoomInfo | None) -> bool:
    """Whether ``room`` is a room people made (kind ``dm`` or ``chat``)."""
    return room is not None and room.kind in PEOPLE_KINDS


def tag_orgs(creator: Account, invitees: Sequence[Account]) -> tuple[str | None, tuple[str, ...]]:
    """``(org, orgs)`` for a new people's chat's ``org.parta.room`` tag.

    ``orgs``: the creator's organizations shared with every invitee; when no single one is shared by all
    (a group chat of people of different schools), those shared with any invitee; with no invitee (a chat
    filled later, by invitations or a link), all the creator's organizations. ``org``: the first of
    ``orgs`` where the creator is staff, else the first (None for an outsider), in the creator's order.
    Invitees of no organization (another server's, unknown) are left out of the sharing.
    """
    mine = list(creator.memberships)
    people = [i for i in invitees if i.memberships]
    orgs = [o for o in mine if all(o in i.memberships for i in people)]
    if not orgs:
        orgs = [o for o in mine if any(o in i.memberships for i in people)] or mine
    org = next((o for o in orgs if creator.is_staff_in(o)), next(iter(orgs), None))
    return org, tuple(orgs)


def chat_orgs(room: RoomInfo, members: Iterable[Account]) -> frozenset[str]:
    """The organizations a people's chat belongs to: those of which every one of ``members`` (everyone
    who has been in the chat, :data:`RECORD_MEMBERSHIPS`, without the bot) that belongs to any
    organization is a member, within the tag's ``orgs`` when it lists them. Empty when nobody in it
    belongs to an organization, or when its people share none (see the module's docstring)."""
    people = [frozenset(m.memberships) for m in members if m.memberships]
    if not people:
        return frozenset()
    orgs = frozenset.intersection(*people)
    if room.orgs:
        orgs &= frozenset(room.orgs)
    return orgs


def belongs_to(room: RoomInfo, members: Iterable[Account], org: str) -> bool:
    """Whether ``org`` may treat the room as its own record (export, retention, moderation): for a
    people's chat, ``org`` is one of :func:`chat_orgs`; for the school's rooms, the tag names ``org``
    (``org``, or ``orgs`` of a network room)."""
    if is_people_chat(room):
        return org in chat_orgs(room, members)
    return room.org == org or org in room.orgs


def rule_orgs(room: RoomInfo, sender: Account) -> list[str]:
    """The organizations whose settings may hold ``sender`` back in ``room`` (quiet hours): the room's
    organization for a school room; every organization of the sender in a people's chat or an untagged
    room (the caller keeps, per recipient, only those the recipient belongs to: the chat is with them
    through those)."""
    if room.org and not is_people_chat(room):
        return [room.org]
    return sorted(sender.memberships)


def may_send_urgent(caps: Capabilities, sender: Account, room: RoomInfo, recipients: Iterable[Account]) -> Decision:
    """May ``sender`` mark a message urgent (``org.parta.urgent``: never held back by quiet hours) in ``room``?

    A school room: ``send_urgent`` in the room's organization (or, untagged, in any of the sender's). A
    people's chat: every recipient (the other joined members, without the bot) of some organization must
    share with the sender an organization where the sender has ``send_urgent``, and the sender must have
    it somewhere: a school's administrator who is a parent in another school writes to that school's
    teacher as a parent, not as an administration.
    """
    def can(org: str) -> bool:
        return caps.can(sender.memberships.get(org), "send_urgent")

    if not is_people_chat(room):
        orgs = [room.org] if room.org else list(sender.memberships)
        return ALLOW if any(can(o) for o in orgs) else deny("urgent_admin_only", URGENT_ADMIN_ONLY)
    urgent_orgs = {o for o in sender.memberships if can(o)}
    if not urgent_orgs:
        return deny("urgent_admin_only", URGENT_ADMIN_ONLY)
    for r in recipients:
        if r.memberships and not urgent_orgs & set(r.memberships):
            return deny("urgent_admin_only", URGENT_ADMIN_ONLY)
    return ALLOW
