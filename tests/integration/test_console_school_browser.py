"""The school's console pages in a real browser (Debian's Chromium under Playwright) against the running
stack: the administrator confirms a teacher after the consequences page, issues a class link and prints
the class's code sheet, imports a roster with a preview then a self-refreshing status page; a teacher is
refused another class's sheet with the API's message while their own class's sheet opens.
``PARTA_CONSOLE_SHOTS=docs/console`` also refreshes the school pages' screenshots at 360 px and desktop width.
"""

from __future__ import annotations

import pytest

from policies.i18n import gettext_

from spaces_provisioner.roster.source import zip_folder

from ..helpers import api, q
from .console_school_world import console_school, school_roster
from .console_world import DESKTOP, PHONE, chromium, new_page, shoot, sign_in_token

pytestmark = pytest.mark.synapse


@pytest.fixture(scope="module")
async def browser():
    async with chromium() as b:
        yield b


def base_of(hs) -> str:
    return f"{hs.settings.provisioning_url}/console/"


async def test_the_administrator_confirms_a_teacher_in_the_browser(hs, browser, tmp_path):
    s = await console_school(hs, tmp_path)
    org, base = s["org"], base_of(hs)
    for width, suffix in ((PHONE, "phone"), (DESKTOP, "desktop")):
        page = await new_page(browser, width)
        await sign_in_token(page, base, s["admin"].token)
        await page.click(f"a[href='/console/org/{org}/']")
        await shoot(page, f"school-home-{suffix}")
        await page.click(f"a[href='/console/org/{org}/people']")
        await shoot(page, f"school-people-{suffix}")
        if width == PHONE:
            assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE  # readable at 360 px
            await page.context.close()
            continue
        await page.click("button[aria-label='Подтвердить учителя: Сидорова Анна'] >> nth=0")
        main = await page.inner_text("main")
        assert "Проверьте перед изменением" in main and "5А" in main, main
        await shoot(page, "school-change-desktop")
        await page.click("main form button[type=submit]")
        await page.wait_for_url(f"{base}org/{org}/people")
        assert "Сидорова Анна: подтверждён(а)" in await page.inner_text("main")
        await page.context.close()
    people = {p["person_id"]: p for p in (await api(s["admin"], "GET", f"/organizations/{org}/people", None,
                                                    hs.settings.provisioning_url))[1]["people"]}
    assert people["t1"]["confirmed"] is True


async def test_a_class_link_is_issued_and_the_class_sheet_printed_in_the_browser(hs, browser, tmp_path):
    s = await console_school(hs, tmp_path)
    org, base = s["org"], base_of(hs)
    page = await new_page(browser, DESKTOP)
    await sign_in_token(page, base, s["admin"].token)
    await page.goto(f"{base}org/{org}/links")
    await page.select_option("#link-role", "student")
    await page.select_option("#link-class", "c5a")
    await page.fill("#link-uses", "30")
    await page.click("form[action$='/links/create'] button[type=submit]")
    await page.wait_for_url(f"{base}org/{org}/links")
    flash = await page.inner_text("main p[role=status]")
    assert "Ссылка создана" in flash, flash
    code = flash.split(": ", 1)[1].split(" ")[0]
    assert code in await page.inner_text("table")
    await shoot(page, "school-links-desktop")
    await page.click(f"a[href='/console/org/{org}/classes/c5a/sheet'] >> nth=0")
    await page.wait_for_url(f"{base}org/{org}/classes/c5a/sheet")
    text = await page.inner_text("body")
    assert "Петров Иван" in text and "Зуева" not in text, text
    # the sheet's stylesheet applies (it is a file: the console's CSP allows no inline style)
    assert await page.eval_on_selector("section.card", "e => getComputedStyle(e).breakInside") == "avoid"
    await shoot(page, "school-sheet-desktop")
    pdf = await page.pdf(format="A4")  # what "Print" in the browser makes
    assert pdf.startswith(b"%PDF") and len(pdf) > 1000
    phone = await new_page(browser, PHONE)
    await sign_in_token(phone, base, s["admin"].token)
    await phone.goto(f"{base}org/{org}/links")
    assert await phone.evaluate("document.documentElement.scrollWidth") <= PHONE
    await shoot(phone, "school-links-phone")
    await phone.context.close()
    await page.context.close()


async def test_a_roster_import_with_preview_then_apply_in_the_browser(hs, browser, tmp_path):
    s = await console_school(hs, tmp_path)
    org, base = s["org"], base_of(hs)
    later = tmp_path / "later.zip"
    later.write_bytes(zip_folder(school_roster(tmp_path / "later", extra_classes=[("c6a", "6А", "06")],
                                               extra_people=[("s3", "student", "Пётр", "Новиков", "")],
                                               extra_enrollments=[("c6a", "s3", "student")])))
    page = await new_page(browser, DESKTOP)
    await sign_in_token(page, base, s["admin"].token)
    await page.goto(f"{base}org/{org}/roster")
    await shoot(page, "school-roster-desktop")
    await page.set_input_files("#roster-file", str(later))
    await page.click("form[action$='/roster/preview'] button[type=submit]")
    await page.wait_for_url(f"{base}org/{org}/roster/preview")
    main = await page.inner_text("main")
    assert gettext_("classes added", "ru") in main and "Проверьте список перед импортом" in main, main
    await shoot(page, "school-roster-preview-desktop")
    people = (await api(s["admin"], "GET", f"/organizations/{org}/people", None,
                        hs.settings.provisioning_url))[1]["people"]
    assert "s3" not in {p["person_id"] for p in people}
    await page.click("form[action$='/roster/apply'] button[type=submit]")
    # the status page reloads itself (the Refresh header) until the import ends
    await page.wait_for_selector("#roster-done", timeout=180_000)
    await shoot(page, "school-roster-done-desktop")
    people = (await api(s["admin"], "GET", f"/organizations/{org}/people", None,
                        hs.settings.provisioning_url))[1]["people"]
    assert "s3" in {p["person_id"] for p in people}
    for path, name in (("audit", "school-audit"), ("settings", "school-settings"), ("reports", "school-reports")):
        await page.goto(f"{base}org/{org}/{path}")
        await shoot(page, f"{name}-desktop")
    phone = await new_page(browser, PHONE)
    await sign_in_token(phone, base, s["admin"].token)
    for path, name in (("roster", "school-roster"), ("audit", "school-audit"), ("settings", "school-settings")):
        await phone.goto(f"{base}org/{org}/{path}")
        width = await phone.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE, (path, width)  # readable at 360 px: nothing wider than the screen
        await shoot(phone, f"{name}-phone")
    await phone.context.close()
    await page.context.close()


async def test_a_teacher_is_refused_another_class_in_the_browser(hs, browser, tmp_path):
    """Attack: a confirmed teacher of 5А opens 5Б's code sheet and the people page: refused with the
    API's messages; the same teacher's own class sheet opens."""
    s = await console_school(hs, tmp_path)
    org, base = s["org"], base_of(hs)
    await api(s["admin"], "PATCH", f"/organizations/{org}/people/{q(s['t1'].user_id)}", {"confirmed": True},
              hs.settings.provisioning_url)
    page = await new_page(browser, PHONE)
    await sign_in_token(page, base, s["t1"].token)
    response = await page.goto(f"{base}org/{org}/classes/c5b/sheet")
    assert response.status == 403
    main = await page.inner_text("main")
    assert gettext_("Personal codes of a class are for the school's administration and the class's teachers",
                    "ru") in main, main
    await shoot(page, "school-refused-phone")
    response = await page.goto(f"{base}org/{org}/people")
    assert response.status == 403
    assert gettext_("Only the organization's administrator or head can do this", "ru") in await page.inner_text("main")
    response = await page.goto(f"{base}org/{org}/classes/c5a/sheet")
    assert response.status == 200 and "Петров Иван" in await page.inner_text("body")
    await page.goto(f"{base}org/{org}/")
    await shoot(page, "school-home-teacher-phone")
    await page.context.close()
