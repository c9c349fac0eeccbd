"""The web console in a real browser (Debian's Chromium under Playwright) against the running
stack: the operator signs in and approves and refuses applications, sees the organizations and
network rooms; a school's administrator signs in with their Matrix password and signs out, which
logs the console's Matrix session out. ``PARTA_CONSOLE_SHOTS=docs/console`` also refreshes the
screenshots at phone (360 px) and desktop width.
"""

from __future__ import annotations

import pytest

from ..helpers import api
from .console_world import (
    DESKTOP,
    PHONE,
    ConsoleClient,
    ConsoleWorld,
    build,
    chromium,
    new_page,
    pending_application,
    shoot,
    sign_in,
    sign_in_token,
)


@pytest.fixture(scope="module")
async def console(hs, tmp_path_factory) -> ConsoleWorld:
    return await build(hs, tmp_path_factory)


@pytest.fixture(scope="module")
async def browser():
    async with chromium() as b:
        yield b


async def test_operator_approves_an_application_in_the_browser(hs, console, browser):
    app_id = await pending_application(hs, full_name="Муниципальное бюджетное общеобразовательное учреждение "
                                                     "«Школа консоли № 1»")
    page = await new_page(browser)
    await sign_in_token(page, console.base, console.operator_token)
    assert "Оператор" in await page.inner_text("header")
    await shoot(page, "home-operator-desktop")
    await page.click("nav >> text=Заявки")
    await shoot(page, "applications-desktop")
    await page.click(f"a[href='/console/applications/{app_id}']")
    assert "Заявка проходит все проверки." in await page.inner_text("main")
    await shoot(page, "application-desktop")
    await page.click("#approve")
    await page.wait_for_url(f"{console.base}applications/{app_id}/approve")
    text = await page.inner_text("main")
    assert "готова" in text and "@" in text, text  # the administrator's login and one-time password
    apps = {a["id"]: a for a in (await hs.api.list_applications())["applications"]}
    assert apps[app_id]["status"] == "approved"
    await page.context.close()


async def test_operator_refuses_an_application_with_a_reason(hs, console, browser):
    app_id = await pending_application(hs)
    page = await new_page(browser, PHONE)
    await sign_in_token(page, console.base, console.operator_token)
    await page.goto(f"{console.base}applications/{app_id}")
    await shoot(page, "application-phone")
    await page.fill("#reason", "Нет номера лицензии; пришлите заявку с ним")
    await page.click("#reject")
    await page.wait_for_url(f"{console.base}applications")
    assert f"Заявка {app_id} отклонена" in await page.inner_text("main")
    await shoot(page, "applications-phone")
    apps = {a["id"]: a for a in (await hs.api.list_applications())["applications"]}
    assert apps[app_id]["status"] == "rejected"
    await page.goto(f"{console.base}applications/{app_id}")
    assert "Нет номера лицензии" in await page.inner_text("main")
    await page.context.close()


async def test_operator_sees_organizations_health_and_network_rooms(hs, console, browser):
    await hs.api.call("POST", "/network-rooms", json={"name": "Методобъединение математиков",
                                                      "orgs": [console.org, console.org_b]})
    for width, suffix in ((DESKTOP, "desktop"), (PHONE, "phone")):
        page = await new_page(browser, width)
        await sign_in_token(page, console.base, console.operator_token)
        await page.goto(f"{console.base}organizations")
        text = await page.inner_text("main")
        assert console.org in text and console.org_b in text and "в порядке" in text, text
        await shoot(page, f"organizations-{suffix}")
        await page.goto(f"{console.base}network")
        assert "Методобъединение математиков" in await page.inner_text("main")
        await shoot(page, f"network-{suffix}")
        await page.context.close()


async def test_school_admin_signs_in_with_the_matrix_password_and_out(hs, console, browser):
    page = await new_page(browser, PHONE)
    await page.goto(f"{console.base}login")
    await shoot(page, "login-phone")
    await sign_in(page, console.base, console.admin)
    main = await page.inner_text("main")
    assert "Ваши школы" in main and "Заявки" not in await page.inner_text("header")
    await shoot(page, "home-admin-phone")
    # English on request, for this session
    await page.select_option("#lang-switch", "en")
    await page.wait_for_load_state()
    if "Your schools" not in await page.inner_text("main"):  # without JS: the switch's own button
        await page.click("form[action='/console/language'] button")
    assert "Your schools" in await page.inner_text("main")
    # the console's Matrix session is a device of the account until sign-out
    admin = await hs.login(console.admin.user_id, console.admin.password)
    devices = (await admin.get("/_matrix/client/v3/devices"))["devices"]
    assert any(d.get("display_name") == "Parta console" for d in devices), devices
    await page.click("text=Sign out")
    await page.wait_for_url(f"{console.base}login")
    assert "You have signed out" in await page.inner_text("main")
    devices = (await admin.get("/_matrix/client/v3/devices"))["devices"]
    assert not any(d.get("display_name") == "Parta console" for d in devices), devices
    await page.goto(console.base)
    assert page.url == f"{console.base}login"
    await page.context.close()


async def test_sessions_cookie_flags(console):
    """HttpOnly, SameSite=Strict, Path=/console/; Secure once the request came over TLS (nginx says so)."""
    c = ConsoleClient(console.base)
    try:
        plain = await c.get("/console/login")
        assert plain.status == 200
        cookie = plain.cookies[0]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/console/" in cookie, cookie
        assert "Secure" not in cookie
        assert plain.headers["Cache-Control"] == "no-store" and plain.headers["X-Frame-Options"] == "DENY"
        assert "default-src 'self'" in plain.headers["Content-Security-Policy"]
        fresh = ConsoleClient(console.base)
        try:
            tls = await fresh.get("/console/login", headers={"X-Forwarded-Proto": "https"})
            assert "Secure" in tls.cookies[0], tls.cookies
        finally:
            await fresh.close()
    finally:
        await c.close()


async def test_the_api_refuses_an_application_as_the_console_does(hs, console):
    """``POST /api/v1/applications/{id}/reject``: the same operation as the console's form."""
    app_id = await pending_application(hs)
    base = hs.settings.provisioning_url
    code, body = await api(console.operator_token, "POST", f"/applications/{app_id}/reject",
                           {"reason": "  Нет   лицензии "}, base=base)
    assert code == 200 and body == {"id": app_id, "status": "rejected", "changes": 1,
                                    "details": [f"application {app_id}: refused"]}, body
    code, body = await api(console.operator_token, "POST", f"/applications/{app_id}/reject",
                           {"reason": "Нет лицензии"}, base=base)
    assert code == 200 and body["changes"] == 0  # the same reason again changes nothing
    code, body = await api(console.operator_token, "POST", f"/applications/{app_id}/reject", {"reason": " "},
                           base=base)
    assert code == 400 and body["errcode"] == "M_BAD_JSON" and "причину" in body["error"], body
    code, body = await api(console.operator_token, "POST", f"/applications/{console.org}/reject",
                           {"reason": "поздно"}, base=base)
    assert code == 403 and body["errcode"] == "M_FORBIDDEN" and "уже одобрена" in body["error"], body
    admin = await hs.login(console.admin.user_id, console.admin.password)
    code, body = await api(admin, "POST", f"/applications/{app_id}/reject", {"reason": "x"}, base=base)
    assert code == 401 and body["errcode"] == "M_UNKNOWN_TOKEN", body
    listed = {a["id"]: a for a in (await hs.api.list_applications())["applications"]}
    assert listed[app_id]["status"] == "rejected"
