"""What the registration page reads and writes: a link's view, parents' e-mail codes, and what
the page learned of a newcomer before the homeserver creates the account.

The page (:mod:`spaces_provisioner.web.register`) renders; these operations are its only way
to the database.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

import sqlalchemy as sa

from policies.capabilities import Account, Decision
from policies.links import Link, may_redeem, usable
from policies.model import FullName

from spaces_provisioner.db import schema as st
from spaces_provisioner.db.queries import account_from_db, class_title
from spaces_provisioner.ops.context import Context
from spaces_provisioner.ops.links import link_from_row, young_link

#: A parent's e-mail code: valid 15 minutes, 5 attempts.
EMAIL_CODE_TTL_MS = 15 * 60 * 1000
EMAIL_CODE_ATTEMPTS = 5


@dataclass(frozen=True)
class LinkView:
    """What the page needs to know of a link: the organization's name, the class's title, the
    roster person of a personal code, and whether a parent's e-mail code is needed first."""

    link: Link
    org_name: str
    class_title: str | None
    person: FullName | None
    young: bool


def _digest(code_id: str, digits: str) -> str:
    return hashlib.sha256(f"{code_id}:{digits}".encode()).hexdigest()


class RegistrationPage:
    """The registration page's operations, for one installation."""

    def __init__(self, ctx: Context):
        self.ctx = ctx

    def link_view(self, code: str) -> LinkView | None:
        """The link of ``code`` as the page shows it; None for an unknown code."""
        with self.ctx.store.begin() as tx:
            row = tx.execute(sa.select(st.links).where(st.links.c.code == code)).one_or_none()
            if row is None:
                return None
            link = link_from_row(row)
            org = tx.execute(sa.select(st.organizations).where(st.organizations.c.id == link.org)).one()
            title = class_title(tx, link.org, link.class_id) if link.class_id else None
            person = None
            if link.person_id:
                r = tx.execute(sa.select(st.people).where(st.people.c.org_id == link.org,
                                                          st.people.c.person_id == link.person_id)).one_or_none()
                if r is not None:
                    person = FullName(r.family_name, r.given_name, r.middle_name)
            young = young_link(tx, link.org, link.role, link.class_id, link.person_id)
        return LinkView(link, org.name, title, person, young)

    def open_link(self, code: str) -> tuple[LinkView | None, Decision]:
        """The link of ``code`` and whether it can be used now (``policies.links.usable``)."""
        view = self.link_view(code)
        return view, usable(view.link if view else None, st.now_ms())

    def may_redeem(self, link: Link, user_id: str) -> Decision:
        """Whether the signed-in ``user_id`` may use ``link`` now (``policies.links.may_redeem``)."""
        return may_redeem(link, self.account(user_id), st.now_ms())

    def start_email_code(self, code: str, address: str) -> tuple[str, str]:
        """Record a new 6-digit code for ``address`` (a young pupil's parent) on link ``code``;
        returns ``(code_id, digits)``: the page keeps the id, the parent gets the digits.
        Only a salted digest of the digits is stored."""
        digits = f"{secrets.randbelow(10**6):06d}"
        code_id = secrets.token_urlsafe(16)
        with self.ctx.store.begin() as tx:
            tx.execute(st.email_codes.insert().values(
                id=code_id, code=code, email=address, digest=_digest(code_id, digits), attempts=0,
                expires_at=st.now_ms() + EMAIL_CODE_TTL_MS, verified=False))
        return code_id, digits

    def check_email_code(self, code: str, code_id: str, digits: str) -> str | None:
        """The verified parent e-mail, or None (each try counts; at most 5, within 15 minutes)."""
        with self.ctx.store.begin() as tx:
            row = tx.execute(sa.select(st.email_codes).where(st.email_codes.c.id == code_id,
                                                             st.email_codes.c.code == code)).one_or_none()
            if row is None or row.expires_at < st.now_ms() or row.attempts >= EMAIL_CODE_ATTEMPTS:
                return None
            ok = secrets.compare_digest(row.digest, _digest(row.id, digits))
            tx.execute(st.email_codes.update().where(st.email_codes.c.id == row.id).values(
                attempts=row.attempts + 1, verified=ok or row.verified))
            return row.email if ok else None

    def taken_login_names(self) -> list[str]:
        """Localparts of every account Parta knows (for the look-alike check of a new login name)."""
        with self.ctx.store.begin() as tx:
            return [u.split(":", 1)[0].lstrip("@") for (u,) in tx.execute(
                sa.select(st.people.c.user_id).where(st.people.c.user_id.is_not(None)))]

    def record_newcomer(self, localpart: str, code: str, name: FullName, guardian_email: str | None) -> None:
        """Keep what the page learned (the name, a checked parent e-mail) until the account exists;
        placing the registration reads it back by login name and link."""
        with self.ctx.store.begin() as tx:
            tx.execute(st.page_registrations.delete().where(st.page_registrations.c.localpart == localpart))
            tx.execute(st.page_registrations.insert().values(
                localpart=localpart, code=code, family_name=name.family_name, given_name=name.given_name,
                middle_name=name.middle_name, guardian_email=guardian_email, created_at=st.now_ms()))

    def account(self, user_id: str) -> Account:
        """The signed-in person's account as Parta's records say."""
        with self.ctx.store.begin() as tx:
            return account_from_db(tx, user_id)
