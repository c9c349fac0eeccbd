"""Attacks on the web console, each next to the legitimate request that succeeds: a form sent
without (or with another session's) CSRF token, a Matrix token logged out elsewhere or stolen
after its sign-out, a teacher opening the operator's queue, the administrator of school B
reaching school A's application, a session id planted before sign-in.

A refusal is the API's error shown as a page: its status, the errcode for support and the
message in the person's language (Russian by default).
"""

from __future__ import annotations

import re

import aiohttp
import pytest

from ..helpers import eventually
from .console_world import (
    ConsoleClient,
    ConsoleWorld,
    build,
    chromium,
    new_page,
    pending_application,
    sign_in,
    sign_in_token,
)

ONLY_OPERATOR = "Эту страницу может открыть и это действие может выполнить только оператор"
NO_CSRF = "нет действительного CSRF-токена"


@pytest.fixture(scope="module")
async def console(hs, tmp_path_factory) -> ConsoleWorld:
    return await build(hs, tmp_path_factory)


@pytest.fixture(scope="module")
async def browser():
    async with chromium() as b:
        yield b


async def _status(hs, app_id: str) -> str:
    return {a["id"]: a for a in (await hs.api.list_applications())["applications"]}[app_id]["status"]


def _refusal(text: str) -> str:
    found = re.search(r'id="refusal">([^<]*)<', text)
    assert found, text[:800]
    return found.group(1)


async def test_console_form_without_csrf_token_is_refused(hs, console, browser):
    """A page of another site (or a script) posting the approve form without the session's token
    is refused (403 M_FORBIDDEN, the message); the same form with it approves."""
    app_id = await pending_application(hs)
    page = await new_page(browser)
    await sign_in_token(page, console.base, console.operator_token)
    await page.goto(f"{console.base}applications/{app_id}")
    await page.evaluate("document.querySelectorAll('input[name=csrf]').forEach(e => e.remove())")
    async with page.expect_response(f"{console.base}applications/{app_id}/approve") as answer:
        await page.click("#approve")
    assert (await answer.value).status == 403
    assert NO_CSRF in await page.inner_text("#refusal")
    assert "M_FORBIDDEN" in await page.inner_text("main")
    assert await _status(hs, app_id) == "pending"
    # the legitimate form, as the page gives it
    await page.goto(f"{console.base}applications/{app_id}")
    await page.click("#approve")
    await page.wait_for_url(f"{console.base}applications/{app_id}/approve")
    assert await _status(hs, app_id) == "approved"
    await page.context.close()


async def test_console_csrf_token_of_another_session_is_refused(hs, console):
    """The token of the attacker's own console session does not work in the victim's."""
    app_id = await pending_application(hs)
    victim, attacker = ConsoleClient(console.base), ConsoleClient(console.base)
    try:
        assert (await victim.sign_in(token=console.operator_token)).status == 303
        foreign = await attacker.csrf()
        r = await victim.post(f"/console/applications/{app_id}/reject", {"csrf": foreign, "reason": "подделка"})
        assert r.status == 403 and NO_CSRF in _refusal(r.text)
        r = await victim.post(f"/console/applications/{app_id}/reject", {"reason": "подделка"})
        assert r.status == 403 and NO_CSRF in _refusal(r.text)
        assert await _status(hs, app_id) == "pending"
        own = await victim.csrf("/console/applications")
        r = await victim.post(f"/console/applications/{app_id}/reject", {"csrf": own, "reason": "Нет лицензии"})
        assert r.status == 303 and r.location == "/console/applications"
        assert await _status(hs, app_id) == "rejected"
    finally:
        await victim.close()
        await attacker.close()


async def test_console_sign_in_form_needs_its_csrf_token(console):
    """Login CSRF: a sign-in posted from elsewhere (signing the victim in as the attacker) is refused."""
    c = ConsoleClient(console.base)
    try:
        r = await c.post("/console/login", {"login": console.admin.user_id, "password": console.admin.password})
        assert r.status == 403 and NO_CSRF in _refusal(r.text)
        assert (await c.sign_in(console.admin)).status == 303
    finally:
        await c.close()


async def test_console_session_planted_before_sign_in_is_worthless(console):
    """Session fixation: the id a visitor had before signing in is not the signed-in session."""
    c = ConsoleClient(console.base)
    try:
        before = (await c.get("/console/login")).cookies[0].split(";")[0]
        signed = await c.sign_in(console.admin)
        after = signed.cookies[0].split(";")[0]
        assert before != after
        planted = ConsoleClient(console.base)
        try:
            planted.session.cookie_jar.update_cookies({"parta_console": before.split("=", 1)[1]})
            r = await planted.get("/console/")
            assert r.status == 303 and r.location == "/console/login"
        finally:
            await planted.close()
        assert (await c.get("/console/")).status == 200
    finally:
        await c.close()


async def test_console_session_ends_with_its_matrix_token(hs, console):
    """The person signs the token out elsewhere (Element, a stolen-device report): the next action
    in the console is refused and sends to the sign-in form; page views follow within seconds."""
    admin = await hs.login(console.admin.user_id, console.admin.password)
    c = ConsoleClient(console.base)
    try:
        assert (await c.sign_in(token=admin.token)).status == 303
        assert (await c.get("/console/")).status == 200
        token = await c.csrf("/console/")
        async with aiohttp.ClientSession() as s:
            async with s.post(f"{hs.url}/_matrix/client/v3/logout", json={},
                              headers={"Authorization": f"Bearer {admin.token}"}) as r:
                assert r.status == 200
        r = await c.post("/console/logout", {"csrf": token})
        assert r.status == 303 and r.location == "/console/login"

        async def views_refused() -> bool:
            return (await c.get("/console/")).status == 303
        assert await eventually(views_refused, timeout=30)
    finally:
        await c.close()


async def test_console_revoked_token_cannot_sign_in(hs, console):
    """A token stolen from a signed-out session (or any the homeserver no longer knows) signs nobody in."""
    admin = await hs.login(console.admin.user_id, console.admin.password)
    c = ConsoleClient(console.base)
    try:
        stolen = admin.token
        async with aiohttp.ClientSession() as s:
            async with s.post(f"{hs.url}/_matrix/client/v3/logout", json={},
                              headers={"Authorization": f"Bearer {stolen}"}) as r:
                assert r.status == 200
        r = await c.sign_in(token=stolen)
        assert r.status == 403 and "Сервер не знает этот токен доступа" in r.text, r.text[:600]
        fresh = await hs.login(console.admin.user_id, console.admin.password)
        assert (await c.sign_in(token=fresh.token)).status == 303
    finally:
        await c.close()


async def test_console_teacher_cannot_open_the_operators_queue(hs, console, browser):
    """A teacher signed in with their own account gets 403 on the queue and on approving; the
    operator sees the queue."""
    app_id = await pending_application(hs)
    page = await new_page(browser)
    await sign_in(page, console.base, console.teacher)
    answer = await page.goto(f"{console.base}applications")
    assert answer.status == 403
    assert await page.inner_text("#refusal") == ONLY_OPERATOR
    c = ConsoleClient(console.base)
    try:
        assert (await c.sign_in(console.teacher)).status == 303
        r = await c.post(f"/console/applications/{app_id}/approve", {"csrf": await c.csrf("/console/")})
        assert r.status == 403 and _refusal(r.text) == ONLY_OPERATOR
    finally:
        await c.close()
    assert await _status(hs, app_id) == "pending"
    operator = await new_page(browser)
    await sign_in_token(operator, console.base, console.operator_token)
    answer = await operator.goto(f"{console.base}applications")
    assert answer.status == 200 and app_id in await operator.inner_text("main")
    await page.context.close()
    await operator.context.close()


async def test_console_school_b_admin_cannot_reach_school_a_application(hs, console):
    """School B's administrator cannot read or decide school A's application, nor reconcile school A;
    the operator can read it."""
    c = ConsoleClient(console.base)
    try:
        assert (await c.sign_in(console.admin_b)).status == 303
        r = await c.get(f"/console/applications/{console.org}")
        assert r.status == 403 and _refusal(r.text) == ONLY_OPERATOR
        assert "Директор" not in r.text and "@example.org" not in r.text  # nothing of the application shows
        csrf = await c.csrf("/console/")
        r = await c.post(f"/console/applications/{console.org}/reject", {"csrf": csrf, "reason": "x"})
        assert r.status == 403
        r = await c.post(f"/console/organizations/{console.org}/reconcile", {"csrf": csrf})
        assert r.status == 403
    finally:
        await c.close()
    operator = ConsoleClient(console.base)
    try:
        assert (await operator.sign_in(token=console.operator_token)).status == 303
        assert (await operator.get(f"/console/applications/{console.org}")).status == 200
    finally:
        await operator.close()
    assert await _status(hs, console.org) == "approved"
