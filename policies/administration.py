"""Who may change whom in an organization: roles, confirmation, removal (pure).

The school's administration (its administrator and head, ``confirm_teachers`` in
``data/capabilities.yaml``) manages people, within two limits that keep privileges from
growing by themselves:

- nobody changes their own role, confirmation or membership (``not_own_record``): another
  administrator or the operator does it;
- the administrator role is the administrators' own: only an administrator makes someone an
  administrator, changes an administrator's role or removes one (``admin_by_admin_only``).

The operator (``actor`` None) is not limited. Sources: the role table of docs/ARCHITECTURE.md.
"""

from __future__ import annotations

from .capabilities import ALLOW, Account, Decision, deny
from .i18n import N_
from .model import Role


def may_change_person(actor: Account | None, org: str, target_user_id: str | None, target_role: str,
                      new_role: str | None = None, changes_confirmation: bool = False,
                      removes: bool = False, reinstates: bool = False, adds: bool = False) -> Decision:
    """May ``actor`` (None: the operator) change the person ``target_user_id`` (None: no account yet)
    of role ``target_role`` in ``org``: give ``new_role``, change the confirmation, remove them,
    bring them back after a removal (``reinstates``: as much a change of membership as a removal),
    or add them to the school in ``target_role`` (``adds``: a roster's new person)?

    The caller has already checked that ``actor`` administers ``org``; names and classes are not
    limited here.
    """
    if actor is None:
        return ALLOW
    touches_role = (removes or reinstates or adds or changes_confirmation
                    or (new_role is not None and new_role != target_role))
    if not touches_role:
        return ALLOW
    if target_user_id is not None and target_user_id == actor.user_id:
        return deny("not_own_record", N_("Nobody changes their own role, confirmation or membership; ask another "
                                         "administrator of the school or the operator"))
    m = actor.memberships.get(org)
    is_admin = m is not None and m.role is Role.ADMIN
    if not is_admin and (target_role == Role.ADMIN.value or new_role == Role.ADMIN.value):
        return deny("admin_by_admin_only", N_("Only the school's administrator can make someone an administrator "
                                              "or change or remove an administrator"))
    return ALLOW
