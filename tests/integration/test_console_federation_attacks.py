"""Attacks on the web console's sessions and sign-in found by the console/federation/workers review
(attacker's notes, /tmp/parta-notes/attacker.md). Each hole is an attack test marked
``xfail(strict=True, reason="hole: ...")`` that passes once the hole is closed, next to the legitimate
request that succeeds today.

The console (``spaces_provisioner.console``) runs here as the provisioning service mounts it, in front
of a small fake homeserver that answers ``/login``, ``/logout`` and ``/account/whoami`` as Synapse 1.163
does, including Synapse's per-address login rate limit (``rc_login.address``: Synapse's default
``burst_count: 5``; Synapse reads the address from ``X-Forwarded-For`` on an ``x_forwarded`` listener,
else the TCP peer). Nothing here needs the database or a real Synapse: the holes are in how the
console keeps sessions and talks to the homeserver.
"""

from __future__ import annotations

import secrets
import time
from pathlib import Path
from types import SimpleNamespace

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from mautrix.api import Method

from policies.capabilities import Account

from spaces_provisioner.api.keys import OPS, SETTINGS
from spaces_provisioner.console.app import add_console
from spaces_provisioner.console.keys import SESSIONS
from spaces_provisioner.console.session import COOKIE, IDLE
from spaces_provisioner.install import workers as wk

from ..helpers import SCHOOL_B_APPLICATION, SCHOOL_B_ROSTER, User, api, ok, q
from ..unit.spaces_provisioner.test_workers_topology import PG, installation
from .console_school_world import Console, console_school

PASSWORDS = {"teacher": "right-password", "admin": "admin-password", "outsider": "outsider-password"}
#: Synapse 1.163's default rc_login.address burst (docs: config_documentation.md, rc_login)
LOGIN_BURST = 5


class FakeHomeserver:
    """``/login`` (password), ``/logout``, ``/account/whoami``, with Synapse's per-address login limit."""

    def __init__(self):
        self.tokens: dict[str, str] = {}
        self.logged_out: list[str] = []
        self.attempts: dict[str, int] = {}
        self.app = web.Application()
        self.app.router.add_post("/_matrix/client/v3/login", self.login)
        self.app.router.add_post("/_matrix/client/v3/logout", self.logout)
        self.app.router.add_get("/_matrix/client/v3/account/whoami", self.whoami)

    async def login(self, request: web.Request) -> web.Response:
        address = request.headers.get("X-Forwarded-For", request.remote or "")
        self.attempts[address] = self.attempts.get(address, 0) + 1
        if self.attempts[address] > LOGIN_BURST:
            return web.json_response({"errcode": "M_LIMIT_EXCEEDED", "error": "Too Many Requests",
                                      "retry_after_ms": 300000}, status=429)
        body = await request.json()
        user = body["identifier"]["user"]
        if PASSWORDS.get(user) != body.get("password"):
            return web.json_response({"errcode": "M_FORBIDDEN", "error": "Invalid username or password"}, status=403)
        token = "syt_" + secrets.token_hex(8)
        self.tokens[token] = f"@{user}:school.test"
        return web.json_response({"user_id": self.tokens[token], "access_token": token, "device_id": "CONSOLE"})

    async def logout(self, request: web.Request) -> web.Response:
        token = request.headers.get("Authorization", "")[7:]
        if self.tokens.pop(token, None) is not None:
            self.logged_out.append(token)
        return web.json_response({})

    async def whoami(self, request: web.Request) -> web.Response:
        user = self.tokens.get(request.headers.get("Authorization", "")[7:])
        if user is None:
            return web.json_response({"errcode": "M_UNKNOWN_TOKEN", "error": "Unknown token"}, status=401)
        return web.json_response({"user_id": user})


class World:
    """The console (as mounted by the provisioning service) in front of :class:`FakeHomeserver`."""

    def __init__(self):
        self.hs = FakeHomeserver()
        self.console = web.Application()
        add_console(self.console, trust_forwarded=True)  # behind nginx (Browser sets X-Forwarded-For)

    async def __aenter__(self) -> World:
        self.hs_client = TestClient(TestServer(self.hs.app))
        await self.hs_client.start_server()
        self.console[SETTINGS] = SimpleNamespace(  # what the console reads of Settings
            homeserver_url=str(self.hs_client.make_url("")).rstrip("/"), operator_token="operator-" + "x" * 32)
        # the registry's answer for an account (outsider: no memberships); the pages here read nothing else
        self.console[OPS] = SimpleNamespace(people=SimpleNamespace(account=Account))
        self.server = TestServer(self.console)
        await self.server.start_server()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.server.close()
        await self.hs_client.close()

    def browser(self, address: str = "198.51.100.10") -> Browser:
        """A browser behind nginx (which sets X-Forwarded-For to the browser's address)."""
        return Browser(str(self.server.make_url("")).rstrip("/"), address)


class Browser:
    """One browser's cookies and CSRF token."""

    def __init__(self, base: str, address: str):
        self.base, self.address = base, address
        self.session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True),
                                             headers={"X-Forwarded-For": address})
        self.csrf = ""
        self.last_headers: dict[str, str] = {}

    async def close(self) -> None:
        await self.session.close()

    async def get(self, path: str) -> tuple[int, str]:
        async with self.session.get(self.base + path, allow_redirects=False) as r:
            text = await r.text()
            self.last_headers = dict(r.headers)
        if 'name="csrf" value="' in text:
            self.csrf = text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        return r.status, text

    async def sign_in(self, login: str, password: str) -> tuple[int, str]:
        """The sign-in form as a browser sends it; (status, Location or page text) without following."""
        await self.get("/console/login")
        async with self.session.post(self.base + "/console/login", allow_redirects=False,
                                     data={"login": login, "password": password, "csrf": self.csrf}) as r:
            text = await r.text()
            self.last_headers = dict(r.headers)
            return r.status, r.headers.get("Location", text)

    def cookie(self) -> str | None:
        for c in self.session.cookie_jar:
            if c.key == COOKIE:
                return c.value
        return None


async def test_a_teacher_signs_in_to_the_console_with_the_right_password():
    """Legitimate: the teacher's password sign-in ends on the console's home (303 to /console/)."""
    async with World() as w:
        teacher = w.browser()
        try:
            status, where = await teacher.sign_in("teacher", PASSWORDS["teacher"])
            assert status == 303 and where == "/console/", where
            status, where = await teacher.get("/console/login")
            assert status == 303, "a signed-in person is sent on from the sign-in form"
        finally:
            await teacher.close()


async def test_an_outsiders_wrong_passwords_do_not_lock_the_school_out_of_the_console():
    """Attack: someone with no account sends 5 wrong passwords to the console's sign-in form from
    their own address; then a teacher (another address) signs in with the right password.
    Today the teacher gets 429 "Too many sign-in attempts from here" (Synapse counted both as the
    service's address). Rule that closes it: the console passes the browser's address to the
    homeserver (X-Forwarded-For on a listener that trusts only the service) or the service's address
    is exempt from rc_login.address and the console rate-limits by the browser's address itself."""
    async with World() as w:
        outsider, teacher = w.browser("203.0.113.66"), w.browser("198.51.100.10")
        try:
            for _ in range(LOGIN_BURST):
                status, _page = await outsider.sign_in("admin", "guess-" + secrets.token_hex(2))
                assert status == 403
            # the console's own limit per browser address refuses the outsider's next try
            status, text = await outsider.sign_in("admin", "guess-" + secrets.token_hex(2))
            assert status == 429 and "Слишком много неудачных попыток входа" in text, (status, text[:300])
            status, where = await teacher.sign_in("teacher", PASSWORDS["teacher"])
            assert status == 303 and where == "/console/", (status, where[:300])
        finally:
            await outsider.close()
            await teacher.close()


async def test_anonymous_visits_do_not_sign_out_an_administrator():
    """Attack: with no account, request /console/login without cookies ``max_sessions`` times (the
    store's size, 20 000 in production; 20 here). The administrator who signed in before is signed
    out (their next page is the sign-in form). Rule: anonymous sessions are capped apart from
    signed-in ones (or not stored before the first POST), so a flood evicts only anonymous ones."""
    async with World() as w:
        w.console[SESSIONS].max_sessions = 20
        admin = w.browser()
        try:
            status, where = await admin.sign_in("admin", PASSWORDS["admin"])
            assert status == 303, where
            async with aiohttp.ClientSession() as anonymous:  # no cookie jar kept between requests
                for _ in range(20):
                    async with anonymous.get(admin.base + "/console/login",
                                             headers={"Cookie": ""}) as r:
                        assert r.status == 200
                    anonymous.cookie_jar.clear()
            status, _text = await admin.get("/console/login")
            assert status == 303, "the administrator is still signed in"
        finally:
            await admin.close()


async def test_an_outsiders_own_sign_ins_do_not_sign_out_an_administrator():
    """Attack: someone with an account of no school pastes their own Matrix access token into the
    sign-in form from ``max_sessions`` fresh browsers (20 000 in production; 20 here). The
    administrator who signed in before is signed out. Rule: a person has at most a few console
    sessions (their oldest goes first), so nobody's sign-ins push out another person's session."""
    async with World() as w:
        w.console[SESSIONS].max_sessions = 20
        admin, outsider = w.browser(), w.browser("203.0.113.66")
        try:
            status, where = await admin.sign_in("admin", PASSWORDS["admin"])
            assert status == 303, where
            # the outsider's own token, from their Matrix client (Element), not from the console
            async with outsider.session.post(w.console[SETTINGS].homeserver_url + "/_matrix/client/v3/login", json={
                    "type": "m.login.password", "identifier": {"type": "m.id.user", "user": "outsider"},
                    "password": PASSWORDS["outsider"]}) as r:
                token = (await r.json())["access_token"]
            for _ in range(20):
                fresh = w.browser("203.0.113.66")
                try:
                    await fresh.get("/console/login")
                    async with fresh.session.post(fresh.base + "/console/login", allow_redirects=False,
                                                  data={"token": token, "csrf": fresh.csrf}) as r:
                        assert r.status == 303
                finally:
                    await fresh.close()
            status, _text = await admin.get("/console/login")
            assert status == 303, "the administrator is still signed in"
        finally:
            await admin.close()
            await outsider.close()


async def test_a_few_anonymous_visits_leave_the_administrator_signed_in():
    """Legitimate: visits below the store's size leave a signed-in session alone."""
    async with World() as w:
        w.console[SESSIONS].max_sessions = 20
        admin = w.browser()
        try:
            status, where = await admin.sign_in("admin", PASSWORDS["admin"])
            assert status == 303, where
            async with aiohttp.ClientSession() as anonymous:
                for _ in range(5):
                    async with anonymous.get(admin.base + "/console/login") as r:
                        assert r.status == 200
                    anonymous.cookie_jar.clear()
            status, _text = await admin.get("/console/login")
            assert status == 303
        finally:
            await admin.close()


async def test_an_expired_console_session_logs_its_matrix_token_out():
    """Attack surface: an administrator signs in with the password (the console makes a new Matrix
    device), walks away; the session expires after IDLE. The token the console made is still
    valid on the homeserver (whoami answers), unknown to anyone who could end it but the
    person's device list. Rule: ending a console session for any reason logs out the token the
    console created (sign-in with a pasted token: leave it), at least on expiry and eviction."""
    async with World() as w:
        admin = w.browser()
        try:
            status, _where = await admin.sign_in("admin", PASSWORDS["admin"])
            assert status == 303
            session = w.console[SESSIONS].get(admin.cookie())
            assert session is not None and session.token is not None
            token = session.token
            session.used_at = time.monotonic() - IDLE - 1  # a school day later
            status, _text = await admin.get("/console/login")
            assert status == 200, "the session has ended: the sign-in form again"
            assert token in w.hs.logged_out, "the console's own Matrix token was logged out"
        finally:
            await admin.close()


async def test_an_expired_session_nobody_comes_back_to_is_logged_out():
    """Attack surface: an administrator signs in with the password and closes the browser (the cookie
    is gone with it); a school day later other people use the console. The 'Parta console' token of
    the closed browser is still valid. Rule: a sweep (on requests, or a periodic task) drops the
    expired sessions and logs out the tokens the console made; at start, the service logs out the
    tokens of sessions a restart forgot (or keeps sessions across restarts)."""
    async with World() as w:
        admin, colleague = w.browser(), w.browser("198.51.100.11")
        try:
            status, _where = await admin.sign_in("admin", PASSWORDS["admin"])
            assert status == 303
            session = w.console[SESSIONS].get(admin.cookie())
            assert session is not None and session.token is not None
            token = session.token
            await admin.close()  # the browser closed: its session cookie is gone
            session.used_at = time.monotonic() - IDLE - 1  # a school day later
            status, _where = await colleague.sign_in("teacher", PASSWORDS["teacher"])
            assert status == 303
            await colleague.get("/console/login")
            assert token in w.hs.logged_out, "the closed browser's console token was logged out"
        finally:
            await colleague.close()


async def test_signing_out_of_the_console_logs_the_matrix_token_out():
    """Legitimate: the sign-out button ends the console's Matrix device (POST /logout)."""
    async with World() as w:
        admin = w.browser()
        try:
            status, _where = await admin.sign_in("admin", PASSWORDS["admin"])
            assert status == 303
            session = w.console[SESSIONS].get(admin.cookie())
            assert session is not None
            token = session.token  # the page's form carries this session's CSRF token
            async with admin.session.post(admin.base + "/console/logout", allow_redirects=False,
                                          data={"csrf": session.csrf}) as r:
                assert r.status == 303 and r.headers["Location"] == "/console/login", r.status
            assert token in w.hs.logged_out
        finally:
            await admin.close()


async def test_the_console_cookie_ends_with_the_browser():
    """Attack: on the staff-room computer an administrator signs in and closes the browser; a pupil
    opens the browser again: the persistent cookie is still there. Rule: a session cookie (no
    Max-Age/Expires); the 12 h idle limit stays on the server."""
    async with World() as w:
        admin = w.browser()
        try:
            await admin.sign_in("admin", PASSWORDS["admin"])
            cookie = admin.last_headers.get("Set-Cookie", "")
            assert COOKIE in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
            assert "Max-Age" not in cookie and "expires" not in cookie.lower(), cookie
        finally:
            await admin.close()


# -- cross-school network rooms: leaving the school does not leave them (real Synapse) -------------------

V = "/_matrix/client/v3"


async def _network_room_of_two_teachers(hs, tmp_path):
    """A school (tests/integration/console_school_world.py) whose teachers t1 and t2 are confirmed, and a
    cross-school network room of that school where t1 (brought in by the bot) invited t2."""
    s = await console_school(hs, tmp_path)
    org, base = s["org"], hs.settings.provisioning_url
    for t in ("t1", "t2"):
        ok(await api(s["admin"], "PATCH", f"/organizations/{org}/people/{q(s[t].user_id)}", {"confirmed": True}, base))
    room = (await hs.api.call("POST", "/network-rooms", json={"name": "Методобъединение словесников",
                                                                "orgs": [org]}))["room_id"]
    await hs.bot.request(Method.POST, f"/_synapse/admin/v1/join/{q(room)}", {"user_id": s["t1"].user_id})
    ok(await s["t1"].attempt("POST", f"{V}/rooms/{q(room)}/invite", {"user_id": s["t2"].user_id}))
    ok(await s["t2"].attempt("POST", f"{V}/join/{q(room)}", {}))
    return s, room


async def _post(user, room: str, body: str) -> dict:
    return ok(await user.attempt("PUT", f"{V}/rooms/{q(room)}/send/m.room.message/{secrets.token_hex(6)}",
                                 {"msgtype": "m.text", "body": body}))


async def _read(user, room: str) -> tuple[int, dict]:
    return await user.attempt("GET", f"{V}/rooms/{q(room)}/messages", query={"dir": "b", "limit": "5"})


@pytest.mark.synapse
async def test_staff_of_the_school_read_its_network_room(hs, tmp_path):
    """Legitimate: a confirmed teacher in the school's cross-school room reads what a colleague posts."""
    s, room = await _network_room_of_two_teachers(hs, tmp_path)
    event = await _post(s["t1"], room, "Заседание МО в четверг")
    status, body = await _read(s["t2"], room)
    assert status == 200 and event["event_id"] in [e["event_id"] for e in body["chunk"]], body


@pytest.mark.synapse
async def test_a_teacher_removed_from_the_school_no_longer_reads_its_network_room(hs, tmp_path):
    """Attack: teacher t2 is removed from the school by its administrator in the console; colleagues
    keep writing in the school's network room (methodological association); t2 reads on with their
    old access token (a suspended account still reads in Synapse). Rule that closes it: removing a
    person, or changing them to a role that is not confirmed staff, makes them leave every network room
    of their organizations (the reconciler's snapshot lists network rooms with the orgs in their
    ``org.parta.room`` tag; the bot kicks with the reason), and the refusal to read is 403 M_FORBIDDEN."""
    s, room = await _network_room_of_two_teachers(hs, tmp_path)
    async with Console(hs.settings.provisioning_url) as c:
        await c.sign_in(s["admin"].token)
        status, text = await c.post(f"/console/org/{s['org']}/people/change",
                                    {"person": "t2", "action": "remove", "sure": "yes"})
        assert status == 200, text[:500]
    event = await _post(s["t1"], room, "Протокол заседания МО (только для учителей)")
    status, body = await _read(s["t2"], room)
    assert status == 403, [e.get("content") for e in body.get("chunk", []) if e["event_id"] == event["event_id"]]


@pytest.mark.synapse
async def test_a_teacher_made_a_parent_leaves_the_network_room_and_its_badge(hs, tmp_path):
    """Attack: the administration changes teacher t2's role to parent in the console (left the job,
    still a pupil's parent). t2 is no longer staff, yet posts in the staff-only network room under
    the name with the teacher's badge ✓. Rule: as above (leave the network rooms when no longer
    confirmed staff of one of the room's organizations); the display name follows in every room."""
    s, room = await _network_room_of_two_teachers(hs, tmp_path)
    async with Console(hs.settings.provisioning_url) as c:
        await c.sign_in(s["admin"].token)
        status, text = await c.post(f"/console/org/{s['org']}/people/change",
                                    {"person": "t2", "action": "update", "role": "parent", "sure": "yes"})
        assert status == 200, text[:500]
    status, member = await s["t1"].attempt("GET", f"{V}/rooms/{q(room)}/state/m.room.member/{q(s['t2'].user_id)}")
    assert status == 200 and not member.get("displayname", "").endswith("✓"), member
    assert member.get("membership") != "join", member
    status, _body = await s["t2"].attempt(
        "PUT", f"{V}/rooms/{q(room)}/send/m.room.message/{secrets.token_hex(6)}",
        {"msgtype": "m.text", "body": "я всё ещё здесь"})
    assert status == 403


# -- the worker topology's nginx (parta init --workers) --------------------------------------------------

def test_the_worker_topologys_nginx_serves_the_console_as_config_nginx_does(tmp_path):
    """Both proxies must expose the same paths (write_nginx_conf's docstring says so): config/nginx.conf
    passes /console/ with X-Forwarded-Proto (the console's cookie gets Secure behind TLS); the worker
    topology's file sends /console/ to its catch-all 404. Rule: the same /console/ location in both."""
    single = (Path(__file__).parents[2] / "config" / "nginx.conf").read_text(encoding="utf-8")
    assert "location /console/ {" in single and "X-Forwarded-Proto" in single.split("location /console/", 1)[1]
    conf = wk.write_worker_topology(installation(tmp_path, PG), nginx_port=18443).nginx_conf.read_text(encoding="utf-8")
    console = conf.split("location /console/", 1)
    assert len(console) == 2 and "X-Forwarded-Proto" in console[1].split("}", 1)[0], "no /console/ location"


# -- a removed teacher's registration links keep working (real Synapse) -----------------------------------

async def _token_valid(hs, code: str) -> bool:
    async with aiohttp.ClientSession() as s, s.get(
            f"{hs.settings.homeserver_url}/_matrix/client/v1/register/m.login.registration_token/validity",
            params={"token": code}) as r:
        return bool((await r.json())["valid"])


async def _teachers_class_link(hs, tmp_path) -> tuple[dict, str]:
    """console_school's teacher t1 (5А), confirmed, and a student link for 5А that t1 created."""
    s = await console_school(hs, tmp_path)
    org, base = s["org"], hs.settings.provisioning_url
    ok(await api(s["admin"], "PATCH", f"/organizations/{org}/people/{q(s['t1'].user_id)}", {"confirmed": True}, base))
    link = ok(await api(s["t1"], "POST", f"/organizations/{org}/links", {"role": "student", "class_id": "c5a",
                                                                          "uses_allowed": 30}, base), status=201)
    return s, link["code"]


@pytest.mark.synapse
async def test_a_teachers_class_link_registers_pupils(hs, tmp_path):
    """Legitimate: the class teacher's student link for 5А is a valid registration token."""
    _s, code = await _teachers_class_link(hs, tmp_path)
    assert await _token_valid(hs, code)


@pytest.mark.synapse
async def test_a_removed_teachers_links_stop_registering(hs, tmp_path):
    """Attack: a teacher makes a 5А student link (30 uses), is removed from the school by the
    administrator in the console, then registers a fresh account with the link: the account becomes a
    pupil of 5А, in the class chat with the children. Rule that closes it: removing a person (or taking
    away the role or confirmation that let them issue a link) revokes their links (the Synapse
    registration tokens deleted), or redemption checks that the link's creator may still issue it;
    Synapse then answers the token's validity false and registration 401."""
    s, code = await _teachers_class_link(hs, tmp_path)
    async with Console(hs.settings.provisioning_url) as c:
        await c.sign_in(s["admin"].token)
        status, text = await c.post(f"/console/org/{s['org']}/people/change",
                                    {"person": "t1", "action": "remove", "sure": "yes"})
        assert status == 200, text[:500]
    assert not await _token_valid(hs, code), "the removed teacher's class link still registers pupils"


# -- moderation in a shared network room (real Synapse) ---------------------------------------------------

async def _shared_network_room(hs, tmp_path) -> tuple[dict, dict, User, str]:
    """School A (console_school, t1 confirmed) and school B (its teacher b-usr-001 confirmed) in one
    network room of both: A's t1 brought in by the bot, B's teacher invited by t1 and joined."""
    s = await console_school(hs, tmp_path)
    org, base = s["org"], hs.settings.provisioning_url
    ok(await api(s["admin"], "PATCH", f"/organizations/{org}/people/{q(s['t1'].user_id)}", {"confirmed": True}, base))
    b = await hs.new_school(roster=SCHOOL_B_ROSTER, application=SCHOOL_B_APPLICATION)
    teacher_b = await hs.person(b["org"], "b-usr-001", confirmed=True)
    room = (await hs.api.call("POST", "/network-rooms", json={"name": "Олимпиада двух школ",
                                                                "orgs": [org, b["org"]]}))["room_id"]
    await hs.bot.request(Method.POST, f"/_synapse/admin/v1/join/{q(room)}", {"user_id": s["t1"].user_id})
    ok(await s["t1"].attempt("POST", f"{V}/rooms/{q(room)}/invite", {"user_id": teacher_b.user_id}))
    ok(await teacher_b.attempt("POST", f"{V}/join/{q(room)}", {}))
    return s, b, teacher_b, room


@pytest.mark.synapse
async def test_a_school_takes_its_own_teacher_out_of_a_shared_network_room(hs, tmp_path):
    """Legitimate: in the network room two schools share, school A's administrator kicks A's own teacher."""
    s, _b, _teacher_b, room = await _shared_network_room(hs, tmp_path)
    status, body = await api(s["admin"], "POST", f"/organizations/{s['org']}/moderation",
                             {"action": "kick", "room_id": room, "user_id": s["t1"].user_id},
                             hs.settings.provisioning_url)
    assert status == 200 and body["done"], body


@pytest.mark.synapse
async def test_a_school_cannot_ban_another_schools_teacher_from_a_shared_network_room(hs, tmp_path):
    """Attack: school A's administrator sends ``POST /api/v1/organizations/{A}/moderation
    {"action": "ban", "room_id": <the shared room>, "user_id": <B's teacher>}`` → today 200 ``done``, B's
    teacher is banned. Legitimate next to it: A's administrator takes A's own teacher out of the room
    (kick) → 200 (``test_a_school_takes_its_own_teacher_out_of_a_shared_network_room``). Rule: in a room
    of several organizations, a school's administration kicks, bans and
    redacts only its own people (the target a member of ``org``); the others' staff go through their
    own school or the operator; refusal 403 ``M_FORBIDDEN``."""
    s, _b, teacher_b, room = await _shared_network_room(hs, tmp_path)
    org, base = s["org"], hs.settings.provisioning_url
    status, body = await api(s["admin"], "POST", f"/organizations/{org}/moderation",
                             {"action": "ban", "room_id": room, "user_id": teacher_b.user_id,
                              "reason": "не из нашей школы"}, base)
    assert status == 403, body


@pytest.mark.synapse
async def test_a_school_cannot_redact_another_schools_teachers_message_in_a_shared_network_room(hs, tmp_path):
    """Attack: school A's administrator sends ``POST /api/v1/organizations/{A}/moderation {"action":
    "redact", "room_id": <the shared room>, "event_id": <B's teacher's message>}``: the bot (the room's
    only moderator) would remove B's teacher's words. Rule: in a room of several organizations a school
    redacts only its own people's messages (``policies.moderation.may_redact_in_shared_room``); refusal
    403 ``M_FORBIDDEN``, ``not_own_person``, and the message stays. Legitimate next to it: A's
    administrator removes A's own teacher's message in the same room (200)."""
    s, _b, teacher_b, room = await _shared_network_room(hs, tmp_path)
    org, base = s["org"], hs.settings.provisioning_url
    theirs = ok(await teacher_b.attempt("PUT", f"{V}/rooms/{q(room)}/send/m.room.message/b-{secrets.token_hex(4)}",
                                        {"msgtype": "m.text", "body": "Протокол олимпиады от школы Б"}))["event_id"]
    status, body = await api(s["admin"], "POST", f"/organizations/{org}/moderation",
                             {"action": "redact", "room_id": room, "event_id": theirs}, base)
    assert (status, body.get("org.parta.reason")) == (403, "not_own_person"), body
    assert body["errcode"] == "M_FORBIDDEN"
    kept = await hs.bot.request(Method.GET, f"{V}/rooms/{q(room)}/event/{q(theirs)}")
    assert kept["content"].get("body") == "Протокол олимпиады от школы Б"
    # an event id the room does not have: 404, nothing done
    status, body = await api(s["admin"], "POST", f"/organizations/{org}/moderation",
                             {"action": "redact", "room_id": room, "event_id": "$nothing-here"}, base)
    assert status == 404, body
    # the twin: A's own teacher's message in the same room
    ours = ok(await s["t1"].attempt("PUT", f"{V}/rooms/{q(room)}/send/m.room.message/a-{secrets.token_hex(4)}",
                                    {"msgtype": "m.text", "body": "Черновик, удалите"}))["event_id"]
    ok(await api(s["admin"], "POST", f"/organizations/{org}/moderation",
                 {"action": "redact", "room_id": room, "event_id": ours}, base))
    gone = await hs.bot.request(Method.GET, f"{V}/rooms/{q(room)}/event/{q(ours)}")
    assert "body" not in gone["content"]
