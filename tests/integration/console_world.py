"""The web console's test world: a real Chromium driven by Playwright, and a plain HTTP client.

Shared by the console's tests (core: sign-in, the operator's pages, the attacks; school pages):

- :func:`chromium`: Debian's Chromium (``/usr/bin/chromium``, installed by
  :func:`tests.debian.ensure_package` when missing) launched by Playwright with
  ``executable_path`` — no browser is ever downloaded (never run ``playwright install``).
- :func:`build`: :class:`ConsoleWorld`: the console's address, school A (the attack
  suite's generated two-class school) and school B (the demo's), the people's login names and
  passwords (administrators, a confirmed class teacher), the operator token.
- :func:`new_page` (a page at phone or desktop width), :func:`sign_in`, :func:`sign_in_token`,
  :func:`shoot` (a PNG into ``$PARTA_CONSOLE_SHOTS``, e.g. ``docs/console``; nothing when unset).
- :class:`ConsoleClient`: the console over plain HTTP (``aiohttp``, its own cookie jar) for
  the tests of cookies, CSRF and revocation: ``get``/``post`` → :class:`Answer`, ``csrf()``.

A test module makes its fixtures from them::

    @pytest.fixture(scope="module")
    async def console(hs, tmp_path_factory) -> ConsoleWorld:
        return await build(hs, tmp_path_factory)

    @pytest.fixture(scope="module")
    async def browser():
        async with chromium() as b:
            yield b
"""

from __future__ import annotations

import contextlib
import copy
import io
import itertools
import os
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from html import unescape
from pathlib import Path

import aiohttp
import pytest

from spaces_provisioner.cli.application_file import read_application_data

from ..debian import ensure_package
from ..helpers import EXAMPLE_APPLICATION, SCHOOL_B_APPLICATION, SCHOOL_B_ROSTER
from ..schools import attack_cast, write_attack_roster

PHONE = 360
DESKTOP = 1280
_n = itertools.count(1)


@dataclass(frozen=True)
class Login:
    """Someone's Matrix login: the full user id and a password."""

    user_id: str
    password: str


@dataclass
class ConsoleWorld:
    base: str                 # ".../console/"
    operator_token: str
    org: str                  # school A: the attack suite's two-class school
    org_b: str                # school B: the demo's
    admin: Login              # school A's administrator
    admin_b: Login            # school B's administrator
    teacher: Login            # 5А's class teacher in school A, confirmed
    teacher_person: str       # the teacher's roster id
    class_id: str             # 5А's class id


async def _login_of(hs, org: str, person_id: str, confirmed: bool | None = None) -> Login:
    """An account for a roster person and a password we know (reset through the admin API if it existed)."""
    r = await hs.api.provision_person(org, person_id, confirmed)
    password = r["password"]
    if password is None:
        password = f"console-{next(_n)}-pw"
        await hs.bot.put_user(r["user_id"], {"password": password, "logout_devices": False})
    return Login(r["user_id"], password)


async def build(hs, tmp_path_factory) -> ConsoleWorld:
    """Schools A and B with their administrators and a teacher, and the console's address."""
    c = attack_cast()
    a = await hs.new_school(roster=write_attack_roster(tmp_path_factory.mktemp("console-roster")))
    b = await hs.new_school(roster=SCHOOL_B_ROSTER, application=SCHOOL_B_APPLICATION)
    acc = {x["role"]: x for x in a["approve"]["accounts"]}
    acc_b = {x["role"]: x for x in b["approve"]["accounts"]}
    return ConsoleWorld(
        base=f"{hs.settings.provisioning_url}/console/", operator_token=hs.settings.operator_token,
        org=a["org"], org_b=b["org"],
        admin=Login(acc["admin"]["user_id"], acc["admin"]["password"]),
        admin_b=Login(acc_b["admin"]["user_id"], acc_b["admin"]["password"]),
        teacher=await _login_of(hs, a["org"], c.teacher, confirmed=True), teacher_person=c.teacher,
        class_id=c.class_id)


async def pending_application(hs, full_name: str | None = None) -> str:
    """A fresh pending application (the example's, with a new slug); returns its id."""
    data = copy.deepcopy(read_application_data(EXAMPLE_APPLICATION))
    data["slug"] = f"c{next(_n)}-console"[:32]
    if full_name:
        data["full_name"] = full_name
    await hs.api.apply_application(data)
    return data["slug"]


# -- the browser ---------------------------------------------------------------------------------
@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator:
    """Debian's Chromium under Playwright (one per test module; each test opens its own context)."""
    executable = ensure_package("chromium", "chromium")
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        pytest.skip("the playwright package is missing: pip install -e '.[test]'")
    # as root (CI, containers) Chromium's sandbox cannot start; the pages are our own
    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=executable, args=args, headless=True)
        yield b
        await b.close()


async def new_page(browser, width: int = DESKTOP, height: int = 800):
    """A page in a fresh browser context (its own cookies) ``width`` CSS pixels wide."""
    context = await browser.new_context(viewport={"width": width, "height": height}, locale="ru-RU")
    return await context.new_page()


async def sign_in(page, base: str, who: Login) -> None:
    """Sign in on the console's form with a login name and password; waits for the home page."""
    await page.goto(f"{base}login")
    await page.fill("#login", who.user_id)
    await page.fill("#password", who.password)
    await page.click("form[action='/console/login'] button[type=submit] >> nth=0")
    await page.wait_for_url(f"{base}")


async def sign_in_token(page, base: str, token: str) -> None:
    """Sign in with an access token (a Matrix access token, or the operator token)."""
    await page.goto(f"{base}login")
    await page.click("summary")
    await page.fill("#token", token)
    await page.click("details button[type=submit]")
    await page.wait_for_url(f"{base}")


async def shoot(page, name: str) -> Path | None:
    """A full-page PNG ``<name>.png`` into ``$PARTA_CONSOLE_SHOTS`` (unset: nothing is written).

    ``PARTA_CONSOLE_SHOTS=docs/console .venv/bin/python -m pytest tests/integration/test_console.py``
    refreshes the screenshots kept in the repository.
    """
    folder = os.environ.get("PARTA_CONSOLE_SHOTS")
    if not folder:
        return None
    path = Path(folder) / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    png = await page.screenshot(full_page=True)
    # a 64-colour palette keeps the repository's copies small (flat UI colours survive it)
    from PIL import Image

    Image.open(io.BytesIO(png)).convert("RGB").quantize(colors=64).save(path, optimize=True)
    return path


# -- plain HTTP ----------------------------------------------------------------------------------
@dataclass
class Answer:
    status: int
    text: str
    headers: dict[str, str]
    cookies: list[str]        # the Set-Cookie headers

    @property
    def location(self) -> str | None:
        return self.headers.get("Location")


CSRF = re.compile(r'name="csrf" value="([^"]+)"')


class ConsoleClient:
    """One browser's worth of the console over plain HTTP (cookies kept, redirects not followed)."""

    def __init__(self, base: str):
        self.base = base.rstrip("/").removesuffix("/console")
        self.session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))

    async def close(self) -> None:
        await self.session.close()

    async def _answer(self, r: aiohttp.ClientResponse) -> Answer:
        return Answer(r.status, await r.text(), dict(r.headers), r.headers.getall("Set-Cookie", []))

    async def get(self, path: str, headers: dict | None = None) -> Answer:
        async with self.session.get(self.base + path, allow_redirects=False, headers=headers) as r:
            return await self._answer(r)

    async def post(self, path: str, data: dict, headers: dict | None = None) -> Answer:
        async with self.session.post(self.base + path, data=data, allow_redirects=False, headers=headers) as r:
            return await self._answer(r)

    async def csrf(self, path: str = "/console/login") -> str:
        """The session's form token, read from a page's hidden field."""
        page = await self.get(path)
        found = CSRF.search(page.text)
        assert found, page.text[:500]
        return unescape(found.group(1))

    async def sign_in(self, who: Login | None = None, token: str | None = None) -> Answer:
        """Sign in (password or token); returns the answer (303 to ``/console/`` when it worked)."""
        data = {"csrf": await self.csrf()}
        data |= {"token": token} if token else {"login": who.user_id, "password": who.password}  # type: ignore[union-attr]
        return await self.post("/console/login", data)
