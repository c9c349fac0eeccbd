"""CSRF protection: a synchronizer token per session, sent back by every form.

Every session (anonymous ones too, so the sign-in form is covered) has a random ``csrf``
token; forms carry it in the hidden field ``csrf`` (``{{ csrf_field() }}`` in a template) and
:func:`check` compares it in constant time on every POST before the handler runs. The
SameSite=Strict cookie is a second wall. Source: OWASP CSRF Prevention Cheat Sheet
("Synchronizer Token Pattern").
"""

from __future__ import annotations

import hmac

from markupsafe import Markup, escape

from policies.i18n import _

from spaces_provisioner.console.session import Session
from spaces_provisioner.errors import Errcode, ProvisioningError

FIELD = "csrf"


def field_html(session: Session) -> Markup:
    """The hidden input a form needs."""
    return Markup('<input type="hidden" name="{}" value="{}">').format(FIELD, escape(session.csrf))


def check(session: Session | None, form: dict[str, str]) -> None:
    """Raises 403 ``M_FORBIDDEN`` unless the form's token is this session's."""
    sent = form.get(FIELD, "")
    if session is None or not sent or not hmac.compare_digest(sent.encode(), session.csrf.encode()):
        raise ProvisioningError(403, Errcode.FORBIDDEN, _(
            "The form is out of date or did not come from this console (no valid CSRF token); "
            "open the page again and resend it"))
