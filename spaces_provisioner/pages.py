"""The registration page (``/register``): one link, one page; works on a phone, without JavaScript.

``GET /register?code=K7MQ-...`` shows what the link needs: the roster entry to confirm (a
personal code) or the name; a login name (a readable suggestion, editable); a password
(strength checked with zxcvbn); for young pupils (grades 1-4, configurable) first a
parent's e-mail, to which a 6-digit code is sent. ``POST /register`` registers through
the homeserver's standard Matrix registration with the link's token (the same path
Element takes), then places the account at once and shows how to sign in.

Someone who already has an account signs in on the same page and the link is redeemed
for that account (a parent adding a second child; a member joining a chat).
"""

from __future__ import annotations

import hashlib
import secrets
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
import aiohttp.http_exceptions
import email_validator
import jinja2
import sqlalchemy as sa
from aiohttp import web
from zxcvbn import zxcvbn

from policies import names
from policies.i18n import LANGUAGES, current_language, gettext_, ngettext, set_language
from policies.links import Link, usable, may_redeem
from policies.model import FullName

from . import store as st
from .accounts import login_base
from .appkeys import LINKER, PROVISIONER, SETTINGS
from .linking import Refused, link_from_row, young_link
from .mailer import MailError, send_mail
from .people import person_from_db

TEMPLATES = Path(__file__).parent / "templates"
EMAIL_CODE_TTL_MS = 15 * 60 * 1000
EMAIL_CODE_ATTEMPTS = 5


def _(message: str) -> str:
    return gettext_(message)


_env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                          extensions=["jinja2.ext.i18n"])
_env.install_gettext_callables(gettext_, ngettext, newstyle=True)


def render(name: str, status: int = 200, **context) -> web.Response:
    """A page in the current language."""
    lang = current_language()
    html = _env.get_template(name).render(lang=lang, lang_query=lambda lg: urlencode(
        {**({"code": context["code"]} if context.get("code") else {}), "lang": lg}), **context)
    return web.Response(text=html, status=status, content_type="text/html")


def _set_page_language(request: web.Request, form=None) -> None:
    lang = (form or {}).get("lang") or request.query.get("lang")
    if lang in LANGUAGES:
        set_language(lang)


class LinkView:
    """What the page needs to know about a link: the organization, the class, the person."""

    def __init__(self, link: Link, org_name: str, class_title: str | None, person: FullName | None,
                 young: bool):
        self.link, self.org_name, self.class_title, self.person, self.young = link, org_name, class_title, person, young

    @property
    def about(self) -> str:
        role = {"student": _("a student"), "parent": _("a parent"), "teacher": _("a teacher"),
                "admin": _("an administrator"), "head": _("the head")}.get(self.link.role or "", "")
        if self.link.role is None:
            return _("This link invites participants of {org} into a chat.").format(org=self.org_name)
        if self.class_title:
            return _("This link registers {role} of class {cls} at {org}.").format(
                role=role, cls=self.class_title, org=self.org_name)
        return _("This link registers {role} at {org}.").format(role=role, org=self.org_name)


def load_view(request: web.Request, code: str) -> LinkView | None:
    """The link of ``code`` with its organization, class, roster person and whether a parent's
    e-mail code is needed (``linking.young_link``); None for an unknown code."""
    p = request.app[PROVISIONER]
    with p.store.begin() as tx:
        row = tx.execute(sa.select(st.links).where(st.links.c.code == code)).one_or_none()
        if row is None:
            return None
        link = link_from_row(row)
        org = tx.execute(sa.select(st.organizations).where(st.organizations.c.id == link.org)).one()
        cls = tx.execute(sa.select(st.classes.c.title).where(
            st.classes.c.org_id == link.org, st.classes.c.class_id == link.class_id)).scalar() \
            if link.class_id else None
        person = None
        if link.person_id:
            r = tx.execute(sa.select(st.people).where(st.people.c.org_id == link.org,
                                                      st.people.c.person_id == link.person_id)).one_or_none()
            if r is not None:
                person = FullName(r.family_name, r.given_name, r.middle_name)
        young = young_link(tx, link.org, link.role, link.class_id, link.person_id)
    return LinkView(link, org.name, cls, person, young)


async def register_page(request: web.Request) -> web.Response:
    _set_page_language(request)
    code = request.query.get("code", "").strip().upper()
    if not code:
        return render("code.html", title=_("Registration"), code="", error=None)
    view = load_view(request, code)
    d = usable(view.link if view else None, st.now_ms())
    if not d:
        return render("code.html", 404 if view is None else 410, title=_("Registration"), code=code,
                      error=d.message())
    return _form(view, code, {}, [], None)


def _form(view: LinkView, code: str, values: dict, errors: list[str], sent: str | None, status: int = 200):
    v = dict(values)
    if not v.get("username"):
        name = view.person or FullName(v.get("family_name", ""), v.get("given_name", ""))
        v["username"] = login_base(name) if (name.family_name or name.given_name) else ""
    step = "email" if view.young and not v.get("email_code_id") else "form"
    title = _("Registration at {org}").format(org=view.org_name)
    signin = (_("A parent with an account (for example for another child) signs in here, and the link is added "
                "to that account.") if view.link.role == "parent"
              else _("Sign in, and the link is used for your existing account."))
    return render("register.html", status, title=title, about=view.about, code=code, link=view.link,
                  young=view.young, step=step, personal=view.person.display if view.person else None,
                  values=v, errors=errors, sent=sent, signin_hint=signin)


async def register_post(request: web.Request) -> web.Response:
    try:
        form = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
        for value in form.values():
            value.encode("utf-8")
    except (UnicodeError, ValueError, aiohttp.http_exceptions.HttpProcessingError):
        return render("code.html", 400, title=_("Registration"), code="",
                      error=_("The form could not be read; please fill it in again"))
    _set_page_language(request, form)
    code = str(form.get("code", "")).strip().upper()
    view = load_view(request, code)
    d = usable(view.link if view else None, st.now_ms())
    if not d:
        return render("error.html", 404 if view is None else 410, title=_("Registration"), message=d.message(),
                      code=code)
    action = form.get("action")
    values = {k: str(form.get(k, "")).strip() for k in (
        "family_name", "given_name", "middle_name", "username", "parent_email", "email_code_id", "email_code")}
    if action == "send_code" and view.young:
        return await _send_code(request, view, code, values)
    if action == "signin":
        return await _signin(request, view, code, form)
    if action == "register" and view.link.registers:
        return await _register(request, view, code, values, form)
    return _form(view, code, values, [_("Please fill in the form and press the button")], None, 400)


async def _send_code(request: web.Request, view: LinkView, code: str, values: dict) -> web.Response:
    try:
        address = email_validator.validate_email(values["parent_email"], check_deliverability=False).normalized
    except email_validator.EmailNotValidError:
        return _form(view, code, {**values, "email_code_id": ""},
                     [_("'{email}' is not an e-mail address; write it like name@example.org").format(
                         email=values["parent_email"])], None, 400)
    digits = f"{secrets.randbelow(10**6):06d}"
    code_id = secrets.token_urlsafe(16)
    p = request.app[PROVISIONER]
    with p.store.begin() as tx:
        tx.execute(st.email_codes.insert().values(
            id=code_id, code=code, email=address, digest=_digest(code_id, digits), attempts=0,
            expires_at=st.now_ms() + EMAIL_CODE_TTL_MS, verified=False))
    text = _("Hello!\n\nYour child is registering in the school messenger of {org}. If you agree, give them this "
             "code: {digits}\n\nThe code is valid for 15 minutes. If you did not expect this e-mail, ignore it.").format(
        org=view.org_name, digits=digits)
    try:
        await send_mail(request.app[SETTINGS].homeserver_config, address,
                        _("Registration code: {digits}").format(digits=digits), text)
    except MailError:
        return _form(view, code, {**values, "email_code_id": ""},
                     [_("The e-mail could not be sent; check the address or try again later")], None, 502)
    return _form(view, code, {**values, "parent_email": address, "email_code_id": code_id}, [],
                 _("We sent a 6-digit code to {email}.").format(email=address))


def _digest(code_id: str, digits: str) -> str:
    return hashlib.sha256(f"{code_id}:{digits}".encode()).hexdigest()


def _check_email_code(request: web.Request, code: str, values: dict) -> str | None:
    """The verified parent e-mail, or None (attempts counted; 5 at most; 15 minutes)."""
    p = request.app[PROVISIONER]
    with p.store.begin() as tx:
        row = tx.execute(sa.select(st.email_codes).where(st.email_codes.c.id == values["email_code_id"],
                                                         st.email_codes.c.code == code)).one_or_none()
        if row is None or row.expires_at < st.now_ms() or row.attempts >= EMAIL_CODE_ATTEMPTS:
            return None
        ok = secrets.compare_digest(row.digest, _digest(row.id, values.get("email_code", "")))
        tx.execute(st.email_codes.update().where(st.email_codes.c.id == row.id).values(
            attempts=row.attempts + 1, verified=ok or row.verified))
        return row.email if ok else None


def _password_problems(password: str, password2: str, hints: list[str]) -> list[str]:
    if password != password2:
        return [_("The two passwords differ; type the same password twice")]
    if len(password) < 8:
        return [_("The password is too short: use at least 8 characters")]
    if len(password) > 256:
        return [_("The password is too long: use at most 256 characters")]
    # zxcvbn measures at most 72 characters; a longer passphrase is judged by its start
    if zxcvbn(password[:72], user_inputs=[h[:72] for h in hints if h])["score"] < 2:
        return [_("The password is too easy to guess; add a word or two, or digits in unusual places")]
    return []


async def _register(request: web.Request, view: LinkView, code: str, values: dict, form) -> web.Response:
    errors: list[str] = []
    guardian_email = None
    if view.young:
        guardian_email = _check_email_code(request, code, values)
        if guardian_email is None:
            errors.append(_("The e-mail code is wrong or expired; check it or ask for a new one"))
    name = view.person
    if name is None:
        try:
            parts = [names.clean_name_part(values[k]) if values[k] else "" for k in
                     ("family_name", "given_name", "middle_name")]
            if not parts[0] or not parts[1]:
                raise names.NameRefused("empty")
            for part in parts:
                names.check_not_badge(part, request.app[SETTINGS].badge)
                names.check_not_role_word(part)
            name = FullName(*parts)
        except names.NameRefused as e:
            errors.append(e.message(current_language()))
    localpart = values["username"].lower()
    with request.app[PROVISIONER].store.begin() as tx:
        taken = [u.split(":", 1)[0].lstrip("@") for (u,) in tx.execute(
            sa.select(st.people.c.user_id).where(st.people.c.user_id.is_not(None)))]
    try:
        names.check_login_name(localpart, taken)
    except names.NameRefused as e:
        errors.append(e.message(current_language()))
    errors += _password_problems(str(form.get("password", "")), str(form.get("password2", "")),
                                 [localpart, *((name.family_name, name.given_name) if name else ())])
    if errors:
        return _form(view, code, values, errors, None, 400)
    p = request.app[PROVISIONER]
    with p.store.begin() as tx:
        tx.execute(st.page_registrations.delete().where(st.page_registrations.c.localpart == localpart))
        tx.execute(st.page_registrations.insert().values(
            localpart=localpart, code=code, family_name=name.family_name, given_name=name.given_name,
            middle_name=name.middle_name, guardian_email=guardian_email, created_at=st.now_ms()))
    token = await request.app[LINKER].one_time_token(code) if view.young else code
    try:
        user_id = await matrix_register(request.app[SETTINGS].homeserver_url, token, localpart,
                                        str(form.get("password", "")))
    except RegistrationRefused as e:
        return _form(view, code, values, [e.message], None, 400)
    await request.app[LINKER].place_registration(user_id)
    return render("done.html", title=_("Welcome!"), user_id=user_id, homeserver=request.app[SETTINGS].homeserver_url,
                  message=_("Your account is ready and you are in your school's rooms."))


async def _signin(request: web.Request, view: LinkView, code: str, form) -> web.Response:
    hs = request.app[SETTINGS].homeserver_url
    user = str(form.get("login_user", "")).strip()
    async with aiohttp.ClientSession() as s:
        async with s.post(f"{hs}/_matrix/client/v3/login", json={
                "type": "m.login.password", "identifier": {"type": "m.id.user", "user": user},
                "password": str(form.get("login_password", "")), "initial_device_display_name": "Parta link"}) as r:
            body = await r.json(content_type=None)
        if r.status == 429:
            return _form(view, code, {}, [_("Too many sign-in attempts from here; wait a few minutes and try "
                                            "again")], None, 429)
        if r.status != 200:
            return _form(view, code, {}, [_("Wrong login name or password")], None, 403)
        token, user_id = body["access_token"], body["user_id"]
        try:
            with request.app[PROVISIONER].store.begin() as tx:
                person = person_from_db(tx, user_id)
            d = may_redeem(view.link, person, st.now_ms())
            if not d:
                return _form(view, code, {}, [d.message()], None, 403)
            await request.app[LINKER].redeem(code, user_id)
        except Refused as e:
            return _form(view, code, {}, [e.decision.message()], None, 403)
        finally:
            async with s.post(f"{hs}/_matrix/client/v3/logout", headers={"Authorization": f"Bearer {token}"},
                              json={}):
                pass
    return render("done.html", title=_("Done"), user_id=user_id, homeserver=hs,
                  message=_("The link was added to your account."))


class RegistrationRefused(Exception):
    """The homeserver refused the registration; ``message`` is for the page."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


async def matrix_register(homeserver_url: str, token: str, localpart: str, password: str) -> str:
    """Register through the standard Client-Server API with a registration token (UIA:
    ``m.login.registration_token`` then ``m.login.dummy``); returns the new user id."""
    url = f"{homeserver_url}/_matrix/client/v3/register"
    body = {"username": localpart, "password": password, "inhibit_login": True,
            "initial_device_display_name": "Parta registration"}
    async with aiohttp.ClientSession() as s:
        session = None
        for stage in (None, "m.login.registration_token", "m.login.dummy"):
            payload = dict(body)
            if stage == "m.login.registration_token":
                payload["auth"] = {"type": stage, "token": token, "session": session}
            elif stage == "m.login.dummy":
                payload["auth"] = {"type": stage, "session": session}
            async with s.post(url, json=payload) as r:
                data = await r.json(content_type=None)
            if r.status == 200:
                return data["user_id"]
            if r.status == 401 and "session" in data:
                session = data["session"]
                continue
            raise RegistrationRefused(_explain(data))
    raise RegistrationRefused(_("The homeserver did not finish the registration; try again"))


def _explain(data: dict) -> str:
    code = data.get("errcode")
    if code == "M_USER_IN_USE":
        return _("This login name is taken; choose another")
    if code == "M_INVALID_USERNAME":
        return data.get("error") or _("This login name cannot be used; choose another")
    if code == "M_WEAK_PASSWORD":
        return _("The password is too weak; choose a longer one")
    return data.get("error") or _("The homeserver refused the registration; try again")


def add_routes(app: web.Application) -> None:
    """Register the page routes."""
    app.router.add_get("/register", register_page)
    app.router.add_post("/register", register_post)
