"""Registration links and chat invite links: who may create them, and whether one may be used now.

Pure. A link is bound to an organization and, as the case may be, to a role and a class
(who registers with it), to a roster person (a personal code), to a child (a parent's
link), and to rooms (a chat invite link). It has a use limit, an expiry and can be
revoked. docs/ARCHITECTURE.md, "Registration and links".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from . import org_settings
from .capabilities import ALLOW, Account, Capabilities, Decision, deny
from .i18n import N_
from .labels import ROLE_NOUNS
from .model import Role

#: A room id: "!" then URL-safe base64 (room version 12) or an opaque localpart, then ":server"
#: for older versions. No "/" or ".": ids go into request paths.
ROOM_ID = re.compile(r"^![A-Za-z0-9_\-]{1,250}(:[A-Za-z0-9.\-:\[\]]{1,230})?$")
USER_ID = re.compile(r"^@[a-z0-9._=/+\-]{1,200}:[A-Za-z0-9.\-:\[\]]{1,230}$")


def _encodable(value: str) -> bool:
    """False for strings that cannot be UTF-8 (lone surrogates from JSON escapes)."""
    try:
        value.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


#: Roles a link can register.
LINK_ROLES = ("admin", "head", "teacher", "student", "parent")


def role_label(role: str) -> Decision:
    """The role's name as a translatable parameter (a Decision, translated with the message)."""
    return Decision(True, "label", ROLE_NOUNS.get(role, role))


@dataclass(frozen=True)
class Link:
    """A link as stored: ``uses``/``uses_allowed`` count redemptions, times are ms since the epoch."""

    code: str
    org: str
    role: str | None = None             # who registers with it (None: a chat link for members only)
    class_id: str | None = None
    person_id: str | None = None        # a personal code for one roster person
    child_user_id: str | None = None    # a parent's link: the child it links to
    child_person_id: str | None = None
    rooms: tuple[str, ...] = ()         # a chat invite link's rooms
    uses: int = 0
    uses_allowed: int | None = None
    expires_at: int | None = None
    revoked: bool = False
    created_by: str = ""

    @property
    def registers(self) -> bool:
        """Whether a newcomer can create an account with it."""
        return self.role is not None


def needs_parent_email(role: str | None, grades: set[int], settings: Mapping | None = None) -> bool:
    """Whether registering with a link needs a parent's e-mail code: a student link whose
    class (or roster entry) is only in the young grades (the organization's
    ``parent_email_grades``, see ``policies.org_settings``). Such links get no Synapse token of
    their own: the page issues a one-time token once the parent's code is checked."""
    return role == "student" and bool(grades) and grades <= set(org_settings.parent_email_grades(settings))


def usable(link: Link | None, now_ms: int) -> Decision:
    """Whether a link can be used at ``now_ms``: known, not revoked, not expired, not used up."""
    if link is None:
        return deny("link_unknown", N_("This link does not exist; check the code or ask for a new link"))
    if link.revoked:
        return deny("link_revoked", N_("This link was revoked; ask the school for a new one"))
    if link.expires_at is not None and now_ms >= link.expires_at:
        return deny("link_expired", N_("This link has expired; ask the school for a new one"))
    if link.uses_allowed is not None and link.uses >= link.uses_allowed:
        return deny("link_exhausted", N_("This link has already been used as many times as it allows"))
    return ALLOW


def may_create_link(caps: Capabilities, creator: Account, org: str, role: str | None, class_id: str | None,
                    child_user_id: str | None, settings: Mapping | None = None) -> Decision:
    """May ``creator`` issue a registration link of ``role`` (and class / child) in ``org``?

    Administrators and the head: any role. A confirmed teacher: student and parent links
    for own classes. A student: a parent's link for themself ("invite my parent").
    """
    m = creator.memberships.get(org)
    if m is None:
        return deny("not_in_organization", N_("You are not a participant of this organization"))
    if role not in LINK_ROLES:
        return deny("link_bad_role", N_("A link registers one of: admin, head, teacher, student, parent"))
    if role == Role.ADMIN.value and m.role is not Role.ADMIN:
        return deny("admin_by_admin_only", N_("Only the school's administrator can make someone an administrator "
                                              "or change or remove an administrator"))
    if caps.can(m, "issue_links", settings):
        return ALLOW
    if m.cap_role == "teacher" and role in ("student", "parent"):
        if class_id is not None and class_id in m.classes:
            return ALLOW
        return deny("link_own_classes", N_("A teacher issues student and parent links for own classes only"))
    if m.role is Role.STUDENT and role == "parent" and child_user_id == creator.user_id:
        return ALLOW
    return deny("may_not_issue_links", N_("Your role cannot issue this link"))


def may_redeem(link: Link, redeemer: Account, now_ms: int, removed: bool = False) -> Decision:
    """May a signed-in ``redeemer`` use ``link`` (join its rooms, or take its role)?

    A parent's link cannot be used by the child it is for, nor by any student; a chat link
    only by people of its organization; a role link cannot give someone a second role in
    the same organization, nor make a student staff anywhere. Someone the school removed
    (``removed``: a people row of the organization with status ``removed``) does not come back
    through a link (``removed_by_school``); staff already in the school do not take more
    classes with one (``already_staff``: classes are the administration's to give, and the
    link is kept for the newcomer it was made for).
    """
    d = usable(link, now_ms)
    if not d:
        return d
    if removed:
        return deny("removed_by_school", N_("The school has removed you from its participants; a link does not "
                                            "bring you back: ask the school's administration"))
    if link.child_user_id is not None and link.child_user_id == redeemer.user_id:
        return deny("parent_link_by_child", N_("This link is for your parent: send it to them; it cannot be "
                                               "used from your own account"))
    m = redeemer.memberships.get(link.org)
    if link.role is None:
        if m is None:
            return deny("link_other_org", N_("This link is for the participants of another organization"))
        return ALLOW
    is_student = any(mm.role is Role.STUDENT for mm in redeemer.memberships.values())
    if (m is not None and m.role.value != link.role) or (is_student and link.role != "student"):
        return deny("link_wrong_role", N_("This link is for {role}; your account has another role"),
                    role=role_label(link.role))
    if m is not None and m.role in (Role.TEACHER, Role.ADMIN, Role.HEAD) and link.role == m.role.value:
        return deny("already_staff", N_("You are already {role} of this school; your classes are given by the "
                                        "school's administration, and this link is kept for a newcomer"),
                    role=role_label(link.role))
    if (m is not None and m.role is Role.STUDENT and link.class_id is not None
            and link.class_id not in m.classes):
        return deny("class_change_by_school", N_("You are already a student of this school; a move to another "
                                                 "class is made by the school's administration"))
    return ALLOW


@dataclass
class LinkRequest:
    """A request to create a link (validated by :func:`check_link_request`)."""

    role: str | None = None
    class_id: str | None = None
    child_user_id: str | None = None
    rooms: list[str] = field(default_factory=list)
    uses_allowed: int | None = None
    expires_in_s: int | None = None


class LinkRequestError(ValueError):
    """A malformed link request: ``decision`` carries the reason code and message."""

    def __init__(self, decision: Decision):
        super().__init__(decision.message("en"))
        self.decision = decision


def check_link_request(body: Mapping) -> LinkRequest:
    """Parse a JSON body into a LinkRequest; raises LinkRequestError naming the field."""
    def bad(msgid: str, **params) -> LinkRequestError:
        return LinkRequestError(deny("bad_request", msgid, **params))

    if not isinstance(body, Mapping):
        raise bad(N_("The request body must be a JSON object"))
    role = body.get("role")
    if role is not None and role not in LINK_ROLES:
        raise bad(N_("'role' must be one of admin, head, teacher, student, parent"))
    rooms = body.get("rooms") or []
    if not isinstance(rooms, list) or len(rooms) > 20 or not all(isinstance(r, str) and ROOM_ID.match(r)
                                                                  for r in rooms):
        raise bad(N_("'rooms' must be a list of room ids"))
    for key in ("class_id", "child_user_id"):
        value = body.get(key)
        if value is not None and not (isinstance(value, str) and 0 < len(value) <= 255 and value.isprintable()
                                      and _encodable(value)):
            raise bad(N_("'{key}' must be text"), key=key)
    if body.get("child_user_id") is not None and not USER_ID.match(body["child_user_id"]):
        raise bad(N_("'{key}' must be text"), key="child_user_id")
    uses = body.get("uses_allowed")
    if uses is not None and (not isinstance(uses, int) or isinstance(uses, bool) or not 1 <= uses <= 10000):
        raise bad(N_("'uses_allowed' must be a whole number from 1 to 10000"))
    expires = body.get("expires_in_s")
    if expires is not None and (not isinstance(expires, int) or isinstance(expires, bool)
                                or not 60 <= expires <= 366 * 86400):
        raise bad(N_("'expires_in_s' must be a whole number of seconds from 60 to one year"))
    if role is None and not rooms:
        raise bad(N_("A link needs a 'role' (registration) or 'rooms' (chat invite), or both"))
    return LinkRequest(role=role, class_id=body.get("class_id"), child_user_id=body.get("child_user_id"),
                       rooms=list(rooms), uses_allowed=uses, expires_in_s=expires)
