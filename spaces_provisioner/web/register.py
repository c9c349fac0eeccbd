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

from pathlib import Path
from urllib.parse import urlencode

import aiohttp
import aiohttp.http_exceptions
import email_validator
import jinja2
from aiohttp import web
from zxcvbn import zxcvbn

from policies import names
from policies.i18n import LANGUAGES, current_language, gettext_, ngettext, set_language
from policies.labels import role_noun
from policies.model import FullName

from spaces_provisioner.api.keys import OPS, SETTINGS
from spaces_provisioner.errors import Refused
from spaces_provisioner.homeserver import user as hs_user
from spaces_provisioner.homeserver.mail import MailError, send_mail
from spaces_provisioner.ops.accounts import login_base
from spaces_provisioner.ops.page import LinkView

TEMPLATES = Path(__file__).parent / "templates"


def _(message: str) -> str:
    return gettext_(message)


routes = web.RouteTableDef()

_env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                          extensions=["jinja2.ext.i18n"])
_env.install_gettext_callables(gettext_, ngettext, newstyle=True)  # type: ignore[attr-defined]  # i18n ext


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


def about(view: LinkView) -> str:
    """One sentence on whom the link is for."""
    if view.link.role is None:
        return _("This link invites participants of {org} into a chat.").format(org=view.org_name)
    role = role_noun(view.link.role)
    if view.class_title:
        return _("This link registers {role} of class {cls} at {org}.").format(
            role=role, cls=view.class_title, org=view.org_name)
    return _("This link registers {role} at {org}.").format(role=role, org=view.org_name)


@routes.get("/register")
async def register_page(request: web.Request) -> web.Response:
    _set_page_language(request)
    code = request.query.get("code", "").strip().upper()
    if not code:
        return render("code.html", title=_("Registration"), code="", error=None)
    view, d = request.app[OPS].page.open_link(code)
    if view is None or not d:
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
    return render("register.html", status, title=title, about=about(view), code=code, link=view.link,
                  young=view.young, step=step, personal=view.person.display if view.person else None,
                  values=v, errors=errors, sent=sent, signin_hint=signin)


@routes.post("/register")
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
    view, d = request.app[OPS].page.open_link(code)
    if view is None or not d:
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
    code_id, digits = request.app[OPS].page.start_email_code(code, address)
    text = _("Hello!\n\nYour child is registering in the school messenger of {org}. If you agree, give them this "
             "code: {digits}\n\nThe code is valid for 15 minutes. If you did not expect this e-mail, "
             "ignore it.").format(org=view.org_name, digits=digits)
    try:
        await send_mail(request.app[SETTINGS].homeserver_config, address,
                        _("Registration code: {digits}").format(digits=digits), text)
    except MailError:
        return _form(view, code, {**values, "email_code_id": ""},
                     [_("The e-mail could not be sent; check the address or try again later")], None, 502)
    return _form(view, code, {**values, "parent_email": address, "email_code_id": code_id}, [],
                 _("We sent a 6-digit code to {email}.").format(email=address))


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
        guardian_email = request.app[OPS].page.check_email_code(code, values["email_code_id"],
                                                                values.get("email_code", ""))
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
    taken = request.app[OPS].page.taken_login_names()
    try:
        names.check_login_name(localpart, taken)
    except names.NameRefused as e:
        errors.append(e.message(current_language()))
    errors += _password_problems(str(form.get("password", "")), str(form.get("password2", "")),
                                 [localpart, *((name.family_name, name.given_name) if name else ())])
    if errors or name is None:
        return _form(view, code, values, errors, None, 400)
    request.app[OPS].page.record_newcomer(localpart, code, name, guardian_email)
    token = await request.app[OPS].links.one_time_token(code) if view.young else code
    try:
        user_id = await hs_user.register(request.app[SETTINGS].homeserver_url, token, localpart,
                                         str(form.get("password", "")))
    except hs_user.RegistrationRefused as e:
        return _form(view, code, values, [e.message], None, 400)
    await request.app[OPS].registrations.place_registration(user_id)
    return render("done.html", title=_("Welcome!"), user_id=user_id, homeserver=request.app[SETTINGS].homeserver_url,
                  message=_("Your account is ready and you are in your school's rooms."))


async def _signin(request: web.Request, view: LinkView, code: str, form) -> web.Response:
    hs = request.app[SETTINGS].homeserver_url
    ops = request.app[OPS]
    try:
        user_id, token = await hs_user.sign_in(hs, str(form.get("login_user", "")).strip(),
                                               str(form.get("login_password", "")))
    except hs_user.SignInRefused as e:
        if e.rate_limited:
            return _form(view, code, {}, [_("Too many sign-in attempts from here; wait a few minutes and try "
                                            "again")], None, 429)
        return _form(view, code, {}, [_("Wrong login name or password")], None, 403)
    try:
        d = ops.page.may_redeem(view.link, user_id)
        if not d:
            return _form(view, code, {}, [d.message()], None, 403)
        await ops.registrations.redeem(code, user_id)
    except Refused as e:
        return _form(view, code, {}, [e.decision.message()], None, 403)
    finally:
        await hs_user.sign_out(hs, token)
    return render("done.html", title=_("Done"), user_id=user_id, homeserver=hs,
                  message=_("The link was added to your account."))
