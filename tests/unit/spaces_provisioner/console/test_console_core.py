"""The console's core without a homeserver: sessions, the CSRF check, cookie flags, the page wrapper.

The same rules are proven against the running stack in tests/integration/test_console_attacks.py;
these run in milliseconds.
"""

from __future__ import annotations

import time

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from spaces_provisioner.console import csrf
from spaces_provisioner.console.app import add_console, page_modules
from spaces_provisioner.console.session import ANONYMOUS_IDLE, SessionStore
from spaces_provisioner.errors import ProvisioningError


def test_sessions_expire_and_the_oldest_go_first():
    store = SessionStore(max_sessions=3)
    first, *_rest = [store.new() for _ in range(4)]
    assert store.get(first.id) is None  # evicted: a flood of visits cannot fill memory
    s = store.new()
    s.used_at = time.monotonic() - ANONYMOUS_IDLE - 1
    assert store.get(s.id) is None
    signed = store.new()
    signed.token = "syt_x"
    other = store.new()
    other.token = "syt_x"
    store.drop_token("syt_x")
    assert store.get(signed.id) is None and store.get(other.id) is None


def test_csrf_check_compares_with_the_sessions_token():
    store = SessionStore()
    a, b = store.new(), store.new()
    csrf.check(a, {"csrf": a.csrf})
    for form in ({}, {"csrf": ""}, {"csrf": b.csrf}):
        with pytest.raises(ProvisioningError) as e:
            csrf.check(a, form)
        assert e.value.status == 403
    with pytest.raises(ProvisioningError):
        csrf.check(None, {"csrf": a.csrf})


def test_every_page_module_mounts_under_console():
    app = web.Application()
    add_console(app)
    paths = {r.resource.canonical for r in app.router.routes() if r.resource is not None}
    assert {"/console/", "/console/login", "/console/logout", "/console/applications"} <= paths
    assert all(p.startswith("/console") for p in paths), paths
    assert {m.__name__.rsplit(".", 1)[1] for m in page_modules()} >= {"signin", "home", "applications"}


async def test_cookie_flags_and_csrf_on_the_sign_in_form():
    app = web.Application()
    add_console(app)
    async with TestClient(TestServer(app)) as c:
        r = await c.get("/console/login")
        cookie = r.headers["Set-Cookie"]
        assert r.status == 200 and "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" not in cookie
        assert 'name="csrf"' in await r.text()
        r = await c.get("/console/", allow_redirects=False)
        assert r.status == 303 and r.headers["Location"] == "/console/login"
        r = await c.post("/console/login", data={"login": "x", "password": "y"})
        assert r.status == 403 and "CSRF" in await r.text()
        r = await c.post("/console/language", data={"lang": "en", "next": "//evil.example/"},
                         allow_redirects=False)
        assert r.status == 403  # the language switch is a form too
    async with TestClient(TestServer(app)) as c:
        r = await c.get("/console/login", headers={"X-Forwarded-Proto": "https"})
        assert "Secure" in r.headers["Set-Cookie"]
