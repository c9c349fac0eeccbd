"""Test helpers: real Matrix clients (mautrix's HTTP client) and the provisioning API.

:class:`User` is a signed-in person making real Client-Server API requests; a refused
request raises ``mautrix.errors.MatrixRequestError`` with ``errcode`` and ``message``.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
from pathlib import Path
from urllib.parse import quote

import aiohttp
from mautrix.api import HTTPAPI, Method

from policies.application import EXAMPLE_PATH
from policies.templates import RoomRef, default_templates

from spaces_provisioner.api.client import ApiClient
from spaces_provisioner.cli.application_file import read_application_data
from spaces_provisioner.cli.demo import DEMO_DATA
from spaces_provisioner.homeserver.bot import BotClient
from spaces_provisioner.roster.source import zip_folder
from spaces_provisioner.settings import Settings

REPO = Path(__file__).resolve().parents[1]
EXAMPLE_APPLICATION = EXAMPLE_PATH
SCHOOL_B_APPLICATION = DEMO_DATA / "school-b.yaml"
SCHOOL_B_ROSTER = DEMO_DATA / "school-b-roster"
_counter = itertools.count(1)


def q(s: str) -> str:
    """URL-quote a path segment."""
    return quote(s, safe="")


class User:
    """A signed-in Matrix user: ``user_id``, and requests as that user."""

    def __init__(self, base_url: str, user_id: str, token: str):
        self.user_id = user_id
        self.base_url = base_url
        self.token = token
        self.api = HTTPAPI(base_url=base_url, token=token)
        self.api.default_retry_count = 0

    async def attempt(self, method: str, path: str, body=None, query: dict | None = None) -> tuple[int, dict]:
        """One raw request: ``(HTTP status, JSON body)`` whatever the outcome (for attack tests)."""
        async with self.api.session.request(method, self.base_url + path, json=body, params=query,
                                            headers={"Authorization": f"Bearer {self.token}"}) as r:
            try:
                data = await r.json(content_type=None)
            except ValueError:
                data = {}
            return r.status, data if isinstance(data, dict) else {"value": data}

    async def close(self) -> None:
        await self.api.session.close()

    async def request(self, method: Method, path: str, body=None, query: dict | None = None):
        return await self.api.request(method, path, body, query_params=query)

    async def get(self, path: str, query: dict | None = None):
        return await self.request(Method.GET, path, query=query)

    async def post(self, path: str, body=None):
        return await self.request(Method.POST, path, body if body is not None else {})

    async def put(self, path: str, body=None):
        return await self.request(Method.PUT, path, body if body is not None else {})

    # conveniences -------------------------------------------------------------------
    async def hierarchy(self, room_id: str) -> list[dict]:
        """``GET /_matrix/client/v1/rooms/{id}/hierarchy`` (all pages)."""
        rooms, token = [], None
        while True:
            query = {"limit": "50", **({"from": token} if token else {})}
            r = await self.get(f"/_matrix/client/v1/rooms/{q(room_id)}/hierarchy", query)
            rooms += r["rooms"]
            token = r.get("next_batch")
            if not token:
                return rooms

    async def join(self, room: str) -> str:
        return (await self.post(f"/_matrix/client/v3/join/{q(room)}"))["room_id"]

    async def invite(self, room_id: str, user_id: str) -> None:
        await self.post(f"/_matrix/client/v3/rooms/{q(room_id)}/invite", {"user_id": user_id})

    async def leave(self, room_id: str) -> None:
        await self.post(f"/_matrix/client/v3/rooms/{q(room_id)}/leave")

    async def create_room(self, body: dict) -> str:
        return (await self.post("/_matrix/client/v3/createRoom", body))["room_id"]

    async def send_text(self, room_id: str, text: str) -> str:
        txn = next(_counter)
        r = await self.put(f"/_matrix/client/v3/rooms/{q(room_id)}/send/m.room.message/t{txn}",
                           {"msgtype": "m.text", "body": text})
        return r["event_id"]

    async def send_event(self, room_id: str, event_type: str, content: dict) -> str:
        txn = next(_counter)
        r = await self.put(f"/_matrix/client/v3/rooms/{q(room_id)}/send/{q(event_type)}/t{txn}", content)
        return r["event_id"]

    async def send_state(self, room_id: str, event_type: str, state_key: str, content: dict) -> str:
        r = await self.put(f"/_matrix/client/v3/rooms/{q(room_id)}/state/{q(event_type)}/{q(state_key)}", content)
        return r["event_id"]

    async def state(self, room_id: str) -> dict[tuple[str, str], dict]:
        events = await self.get(f"/_matrix/client/v3/rooms/{q(room_id)}/state")
        return {(e["type"], e["state_key"]): e["content"] for e in events}

    async def joined_rooms(self) -> set[str]:
        return set((await self.get("/_matrix/client/v3/joined_rooms"))["joined_rooms"])

    async def search_users(self, term: str) -> list[str]:
        r = await self.post("/_matrix/client/v3/user_directory/search", {"search_term": term, "limit": 50})
        return [u["user_id"] for u in r["results"]]


async def password_login(base_url: str, user_id: str, password: str) -> dict:
    """``POST /login`` with ``m.login.password``; the answer (``user_id``, ``access_token``...)."""
    api = HTTPAPI(base_url=base_url)
    try:
        return await api.request(Method.POST, "/_matrix/client/v3/login", {
            "type": "m.login.password", "identifier": {"type": "m.id.user", "user": user_id},
            "password": password})
    finally:
        await api.session.close()


class Homeserver:
    """The running test installation: the bot, the operator's API client, sign-ins."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.url = settings.homeserver_url
        self.server_name = settings.server_name
        self.bot: BotClient | None = None
        self.api: ApiClient | None = None
        self._users: list[User] = []

    async def open(self) -> None:
        self.bot = BotClient(self.url, self.settings.bot_access_token, self.settings.bot_user_id,
                             unix_socket=self.settings.admin_socket)
        self.api = await ApiClient(self.settings.provisioning_url, self.settings.operator_token).__aenter__()

    async def close(self) -> None:
        for u in self._users:
            await u.close()
        await self.api.__aexit__(None, None, None)
        await self.bot.close()

    async def login(self, user_id: str, password: str) -> User:
        """Sign in with ``m.login.password`` as a real client does."""
        r = await password_login(self.url, user_id, password)
        user = User(self.url, r["user_id"], r["access_token"])
        self._users.append(user)
        return user

    async def new_school(self, slug: str | None = None, roster: Path | None = None,
                         application: Path = EXAMPLE_APPLICATION, **overrides) -> dict:
        """Apply, approve and (optionally) import a roster for a fresh organization.

        Returns ``{"org": id, "space_id", "approve": answer, "roster": answer|None}``.
        """
        data = copy.deepcopy(read_application_data(application))
        data["slug"] = slug or f"t{next(_counter)}-{data.get('slug') or 'org'}"[:32]
        data.update(overrides)
        await self.api.apply_application(data)
        approved = await self.api.approve(data["slug"])
        imported = await self.api.import_roster(data["slug"], zip_folder(roster)) if roster else None
        return {"org": data["slug"], "space_id": approved["organization"]["space_id"],
                "approve": approved, "roster": imported, "application": data}

    async def person(self, org: str, person_id: str, confirmed: bool | None = None) -> User:
        """Give a roster person an account (operator API) and sign in as them."""
        r = await self.api.provision_person(org, person_id, confirmed)
        password = r["password"]
        if password is None:  # existing account: reset its password through the admin API
            password = f"pw-{next(_counter)}-reset"
            await self.bot.put_user(r["user_id"], {"password": password, "logout_devices": False})
        return await self.login(r["user_id"], password)

    async def outsider(self, given: str = "Посторонний") -> User:
        """A fresh account in no organization, signed in."""
        r = await self.api.create_account(f"Тестов{next(_counter)}", given)
        return await self.login(r["user_id"], r["password"])


# -- the provisioning API and the registration page, as a person uses them ------------------
API = "/api/v1"
T = default_templates()


def write_classes_roster(folder: Path, classes: list[tuple[str, str, str]],
                         people: list[tuple[str, str, str, str, str]] = (),
                         enrollments: list[tuple[str, str, str]] = ()) -> Path:
    """A OneRoster 1.1 roster: classes (id, title, grade); people (id, role, given, family, agents);
    enrollments (class, person, role)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "manifest.csv").write_text("propertyName,value\nmanifest.version,1.0\noneroster.version,1.1\n")
    (folder / "orgs.csv").write_text("sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId\n"
                                     "org,,,Школа,school,,\n")
    (folder / "classes.csv").write_text(
        "sourcedId,status,dateLastModified,title,grades,courseSourcedId,classCode,classType,location,"
        "schoolSourcedId,termSourcedIds\n" + "".join(f"{c},,,{t},{g},crs,,homeroom,,org,\n" for c, t, g in classes))
    (folder / "users.csv").write_text(
        "sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,username,userIds,givenName,familyName,"
        "middleName,identifier,email,sms,phone,agentSourcedIds,grades,password\n"
        + "".join(f"{i},,,true,org,{r},,,{g},{f},,,,,,{a},,\n" for i, r, g, f, a in people))
    (folder / "enrollments.csv").write_text(
        "sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,userSourcedId,role,primary,beginDate,"
        "endDate\n" + "".join(f"e{n},,,{c},org,{p},{r},false,,\n" for n, (c, p, r) in enumerate(enrollments)))
    return folder


class Page:
    """A browser without JavaScript: GET and POST forms on the provisioning service."""

    def __init__(self, base: str):
        self.base = base

    async def get(self, path: str) -> tuple[int, str]:
        async with aiohttp.ClientSession() as s, s.get(self.base + path) as r:
            return r.status, await r.text()

    async def post(self, form: dict) -> tuple[int, str]:
        async with aiohttp.ClientSession() as s, s.post(self.base + "/register", data=form) as r:
            return r.status, await r.text()


async def api(user: User | str, method: str, path: str, body=None, base: str = "") -> tuple[int, dict]:
    """One provisioning API request with a person's (or the operator's) token: ``(status, JSON)``."""
    token = user.token if isinstance(user, User) else user
    async with aiohttp.ClientSession() as s, s.request(method, base + API + path, json=body,
                                                       headers={"Authorization": f"Bearer {token}"}) as r:
        return r.status, await r.json(content_type=None)


async def rooms_of(hs, org: str, names: dict[str, RoomRef]) -> dict[str, str]:
    """Room ids of ``names`` (name → RoomRef), found by their aliases."""
    return {k: await hs.bot.resolve_alias(f"#{T.alias_localpart(r)}:{hs.server_name}") for k, r in names.items()}


async def eventually(predicate, timeout: float = 15.0):
    """Await ``predicate()`` until it is truthy or ``timeout`` seconds pass; returns its last value."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await predicate()
        if value or asyncio.get_running_loop().time() > deadline:
            return value
        await asyncio.sleep(0.2)


def refused(resp: tuple, reason: str, status: int = 403, errcode: str = "M_FORBIDDEN") -> dict:
    """Assert that ``resp`` (status, JSON body, ...) is Parta's refusal: ``status``, ``errcode``, the reason
    ``org.parta.reason`` and a message in ``error``; returns the body."""
    code, body = resp[0], resp[1]
    assert code == status and isinstance(body, dict), body
    assert body.get("errcode") == errcode and body.get("org.parta.reason") == reason, body
    assert body.get("error"), body
    return body


def ok(resp: tuple, status: int = 200) -> dict:
    """Assert that ``resp`` (status, JSON body, ...) succeeded with ``status``; returns the body."""
    code, body = resp[0], resp[1]
    assert code == status, body
    return body
