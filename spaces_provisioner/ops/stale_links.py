"""Links whose creator may no longer issue them stop working (a removed teacher's class link).

A registration link is checked against its creator's rights when it is made
(``policies.links.may_create_link``); Synapse then accepts its code as a registration token on its
own, with no callback that could ask Parta again (Client-Server API, "Token-authenticated
registration"; Synapse's ``registration_tokens`` table). So when a person stops being someone who
may issue a link they made (removed from the school, role changed, confirmation withdrawn, classes
taken away), the link is revoked here: the ``links`` row is marked revoked (the registration page
then says "This link was revoked; ask the school for a new one", ``link_revoked``) and the Synapse
token is deleted (token validity ``false``, ``/register`` 401). Links of the operator and of people
who still may issue them are left alone; personal codes (one per roster person, shared by whoever
prints the class sheet) are not a person's links and are left alone too.
"""

from __future__ import annotations

import sqlalchemy as sa

from policies.links import may_create_link

from spaces_provisioner.db import schema as st
from spaces_provisioner.db.queries import account_from_db
from spaces_provisioner.ops.context import Context


async def revoke_links_of_former_issuers(ctx: Context, org_id: str, actor: str) -> list[str]:
    """Revoke ``org_id``'s live registration links whose creator may no longer issue them.

    Re-applies ``may_create_link`` (the rule of creation) with the creator's current memberships to
    every unrevoked role link of ``org_id`` made by an account (``created_by`` a user id; the
    operator's links are kept) that is not a personal code. Marks them revoked (audited as
    ``link.revoke_stale`` with the creator and the reason code), then deletes their Synapse
    registration tokens. Returns the revoked codes. Raises ``MatrixRequestError`` when the
    homeserver refuses a deletion (the rows stay revoked, so the page already refuses; the next
    call retries nothing, but :meth:`Links.revoke` by hand deletes the token again).
    """
    stale: list[str] = []
    with ctx.store.begin() as tx:
        settings = ctx.org_settings(tx, org_id)
        rows = tx.execute(sa.select(st.links).where(
            st.links.c.org_id == org_id, st.links.c.revoked.is_(False), st.links.c.role.is_not(None),
            st.links.c.person_id.is_(None), st.links.c.created_by.startswith("@"))).all()
        accounts = {}
        for row in rows:
            if row.created_by not in accounts:
                accounts[row.created_by] = account_from_db(tx, row.created_by)
            decision = may_create_link(ctx.caps, accounts[row.created_by], org_id, row.role, row.class_id,
                                       row.child_user_id, settings)
            if decision.allowed:
                continue
            tx.execute(st.links.update().where(st.links.c.code == row.code).values(revoked=True))
            st.audit(tx, actor, "link.revoke_stale", org=org_id, code=row.code, creator=row.created_by,
                     reason=decision.reason)
            stale.append(row.code)
    for code in stale:
        await ctx.bot.delete_registration_token(code)
    return stale
