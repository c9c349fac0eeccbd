"""The OneRoster REST reader against a OneRoster 1.1/1.2 REST service written here from the 1EdTech
binding: the same school as CSV and over REST is the same roster, paging, tokens, errors.

:class:`OneRosterServer` is the service (the integration test of ``parta roster watch`` runs it
too). It serves a school written by Parta's generator (:func:`write_oneroster`; invented
people), from its OneRoster 1.2 CSV files turned into the JSON binding's records:

- ``POST /token``: the OAuth 2 client-credentials grant (RFC 6749 §4.4), the client
  authenticated by HTTP Basic (§2.3.1), ``scope`` optional (only the version's
  ``roster-core.readonly`` is granted); ``{"access_token", "token_type": "bearer", "expires_in"}``
  or 401 ``{"error": "invalid_client"}``;
- ``GET /ims/oneroster/v1p1/{users,classes,enrollments,orgs,academicSessions}`` (1.1: a user
  has one ``role``, booleans are the strings ``"true"``/``"false"``) and the same under
  ``/ims/oneroster/rostering/v1p2/`` (1.2: ``roles: [{roleType, role, org}]``, JSON booleans);
  a bearer token required (else 401); ``limit`` (default 100) and ``offset``; the
  ``X-Total-Count`` header and a ``Link`` header with ``next``, ``last``, ``first``, ``prev``
  (each can be switched off).
"""

from __future__ import annotations

import csv
import dataclasses
import secrets
from collections import Counter
from pathlib import Path
from urllib.parse import urlencode

import pytest
from aiohttp import BasicAuth, web

from policies.i18n import set_language
from policies.model import RowProblem

from spaces_provisioner.roster import ONEROSTER_11, ONEROSTER_12, RosterError, load_roster
from spaces_provisioner.roster.generate import generate_school, write_oneroster
from spaces_provisioner.roster.rest import PATHS, SCOPES, OneRosterRestClient, RestConfig, fetch_roster, rest_version
from spaces_provisioner.roster.write import write_roster_csv

CLIENT_ID, CLIENT_SECRET = "parta-test-client", "s3cret:with/odd&chars"
COLLECTIONS = ("users", "classes", "enrollments", "orgs", "academicSessions")


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _split(value: str) -> list[str]:
    return [v for v in value.split(",") if v]


class OneRosterServer:
    """A OneRoster 1.1 and 1.2 REST service serving the OneRoster 1.2 CSV roster in ``folder``.

    ``paging`` names the paging headers sent (``total``: X-Total-Count, ``link``: Link).
    ``expire_tokens_after``: after that many data requests every token issued so far stops
    working (the next request gets 401); ``reject_tokens``: every data request gets 401.
    ``status``: ``{(collection, sourcedId): status}`` overriding records' ``status``.
    """

    def __init__(self, folder: Path, *, client_id: str = CLIENT_ID, client_secret: str = CLIENT_SECRET,
                 paging: tuple[str, ...] = ("total", "link"), max_limit: int = 1000):
        self.folder = Path(folder)
        self.client_id, self.client_secret = client_id, client_secret
        self.paging = paging
        self.max_limit = max_limit
        self.tokens: set[str] = set()
        self.token_requests = 0
        self.data_requests: list[str] = []
        self.expire_tokens_after: int | None = None
        self.reject_tokens = False
        self.ignore_offset = False
        self.next_link_origin: str | None = None
        self.status: dict[tuple[str, str], str] = {}
        self.runner: web.AppRunner | None = None
        self.base_url = ""

    # -- life -------------------------------------------------------------------------
    async def start(self) -> str:
        """Listen on a free port of 127.0.0.1; returns the base URL."""
        app = web.Application()
        app.router.add_post("/token", self.token)
        for version, path in PATHS.items():
            for name in COLLECTIONS:
                app.router.add_get(f"{path}/{name}", self._collection_handler(version, name))
        app.router.add_get("/not-json/ims/oneroster/v1p1/classes", self.html)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        host, port = self.runner.addresses[0][:2]
        self.base_url = f"http://{host}:{port}"
        return self.base_url

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    @property
    def token_url(self) -> str:
        return f"{self.base_url}/token"

    def config(self, version: str = "1.2", **kw) -> RestConfig:
        """A client configuration for this server."""
        kw.setdefault("client_secret", self.client_secret)
        return RestConfig(self.base_url, self.token_url, kw.pop("client_id", self.client_id), version=version, **kw)

    # -- OAuth 2 ----------------------------------------------------------------------
    async def token(self, request: web.Request) -> web.Response:
        self.token_requests += 1
        form = await request.post()
        try:
            auth = BasicAuth.decode(request.headers.get("Authorization", ""))
        except ValueError:
            auth = None
        from urllib.parse import unquote_plus

        if auth is None or (unquote_plus(auth.login), unquote_plus(auth.password)) != (
                self.client_id, self.client_secret):
            return web.json_response({"error": "invalid_client"}, status=401,
                                     headers={"WWW-Authenticate": 'Basic realm="oneroster"'})
        if form.get("grant_type") != "client_credentials":
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        scope = str(form.get("scope", ""))
        if scope and scope not in SCOPES.values():
            return web.json_response({"error": "invalid_scope"}, status=400)
        token = secrets.token_urlsafe(16)
        self.tokens.add(token)
        return web.json_response({"access_token": token, "token_type": "bearer", "expires_in": 3600,
                                  **({"scope": scope} if scope else {})}, headers={"Cache-Control": "no-store"})

    def _authorized(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        return header.startswith("Bearer ") and header[len("Bearer "):] in self.tokens and not self.reject_tokens

    # -- the collections --------------------------------------------------------------
    def _collection_handler(self, version: str, name: str):
        async def handler(request: web.Request) -> web.Response:
            if not self._authorized(request):
                return web.json_response({"imsx_codeMajor": "failure", "imsx_severity": "error",
                                          "imsx_description": "invalid token"}, status=401,
                                         headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
            self.data_requests.append(str(request.rel_url))
            if self.expire_tokens_after is not None and len(self.data_requests) >= self.expire_tokens_after:
                self.tokens.clear()
                self.expire_tokens_after = None
            try:
                limit = int(request.query.get("limit", "100"))
                offset = int(request.query.get("offset", "0"))
            except ValueError:
                return web.json_response({"imsx_codeMajor": "failure", "imsx_description": "bad paging"}, status=400)
            if limit < 1 or offset < 0:
                return web.json_response({"imsx_codeMajor": "failure", "imsx_description": "bad paging"}, status=400)
            limit = min(limit, self.max_limit)
            records = self.records(name, version)
            if self.ignore_offset:
                offset = 0
            page = records[offset: offset + limit]
            headers = {}
            if "total" in self.paging:
                headers["X-Total-Count"] = str(len(records))
            if "link" in self.paging:
                headers["Link"] = self._links(request, len(records), limit, offset)
            return web.json_response({name: page}, headers=headers)
        return handler

    def _links(self, request: web.Request, total: int, limit: int, offset: int) -> str:
        origin = self.next_link_origin or self.base_url
        url = f"{origin}{request.path}"

        def at(o: int) -> str:
            return f"{url}?{urlencode({'limit': limit, 'offset': o})}"
        links = []
        if offset + limit < total:
            links.append(f'<{at(offset + limit)}>; rel="next"')
        links.append(f'<{at(max(0, (total - 1) // limit * limit))}>; rel="last"')
        links.append(f'<{at(0)}>; rel="first"')
        if offset > 0:
            links.append(f'<{at(max(0, offset - limit))}>; rel="prev"')
        return ", ".join(links)

    async def html(self, request: web.Request) -> web.Response:
        return web.Response(text="<html><body>Sign in</body></html>", content_type="text/html")

    # -- the school as the JSON binding's records ----------------------------------------
    def _ref(self, version: str, kind: str, source_id: str) -> dict:
        plural = {"org": "orgs", "user": "users", "class": "classes", "course": "courses",
                  "academicSession": "academicSessions"}[kind]
        return {"href": f"{self.base_url}{PATHS[version]}/{plural}/{source_id}", "sourcedId": source_id, "type": kind}

    def _status(self, name: str, source_id: str) -> str:
        return self.status.get((name, source_id), "active")

    def records(self, name: str, version: str) -> list[dict]:
        v12 = version == ONEROSTER_12

        def boolean(value: bool):
            return value if v12 else ("true" if value else "false")

        stamp = "2026-09-01T00:00:00.000Z"
        if name == "users":
            roles: dict[str, list[dict]] = {}
            for r in read_csv(self.folder / "roles.csv"):
                roles.setdefault(r["userSourcedId"], []).append(r)
            out = []
            for u in read_csv(self.folder / "users.csv"):
                record = {
                    "sourcedId": u["sourcedId"], "status": self._status("users", u["sourcedId"]),
                    "dateLastModified": stamp, "enabledUser": boolean(u["enabledUser"] == "true"),
                    "username": u["username"], "userIds": [], "givenName": u["givenName"],
                    "familyName": u["familyName"], "middleName": u["middleName"], "identifier": "", "email": "",
                    "sms": "", "phone": "", "agents": [self._ref(version, "user", a)
                                                       for a in _split(u["agentSourcedIds"])],
                    "grades": _split(u["grades"]),
                }
                mine = roles.get(u["sourcedId"], [])
                if v12:
                    record["roles"] = [{"roleType": r["roleType"], "role": r["role"],
                                        "org": self._ref(version, "org", r["orgSourcedId"])} for r in mine]
                    record["primaryOrg"] = self._ref(version, "org", u["primaryOrgSourcedId"])
                else:
                    primary = next((r for r in mine if r["roleType"] == "primary"), mine[0] if mine else None)
                    record["role"] = primary["role"] if primary else ""
                    record["orgs"] = [self._ref(version, "org", u["primaryOrgSourcedId"])]
                out.append(record)
            return out
        if name == "classes":
            return [{"sourcedId": c["sourcedId"], "status": self._status("classes", c["sourcedId"]),
                     "dateLastModified": stamp, "title": c["title"], "classCode": c["classCode"],
                     "classType": c["classType"], "grades": _split(c["grades"]),
                     "course": self._ref(version, "course", c["courseSourcedId"]),
                     "school": self._ref(version, "org", c["schoolSourcedId"]),
                     "terms": [self._ref(version, "academicSession", t) for t in _split(c["termSourcedIds"])]}
                    for c in read_csv(self.folder / "classes.csv")]
        if name == "enrollments":
            return [{"sourcedId": e["sourcedId"], "status": self._status("enrollments", e["sourcedId"]),
                     "dateLastModified": stamp, "user": self._ref(version, "user", e["userSourcedId"]),
                     "class": self._ref(version, "class", e["classSourcedId"]),
                     "school": self._ref(version, "org", e["schoolSourcedId"]), "role": e["role"],
                     "primary": boolean(e["primary"] == "true"), "beginDate": e["beginDate"], "endDate": e["endDate"]}
                    for e in read_csv(self.folder / "enrollments.csv")]
        if name == "orgs":
            return [{"sourcedId": o["sourcedId"], "status": "active", "dateLastModified": stamp, "name": o["name"],
                     "type": o["type"], "identifier": o["identifier"]} for o in read_csv(self.folder / "orgs.csv")]
        return [{"sourcedId": s["sourcedId"], "status": "active", "dateLastModified": stamp, "title": s["title"],
                 "type": s["type"], "startDate": s["startDate"], "endDate": s["endDate"],
                 "schoolYear": s["schoolYear"]} for s in read_csv(self.folder / "academicSessions.csv")]


# -- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def school_folder(tmp_path_factory) -> Path:
    """The small generated school as OneRoster 1.2 CSV."""
    folder = tmp_path_factory.mktemp("school-csv")
    write_oneroster(generate_school("small"), folder)
    return folder


@pytest.fixture
async def server(school_folder):
    s = OneRosterServer(school_folder)
    await s.start()
    yield s
    await s.stop()


# -- the same school, over REST and as CSV ---------------------------------------------------


async def test_rest_12_is_the_csv_roster(server, school_folder):
    expected = load_roster(school_folder)
    assert expected.format == ONEROSTER_12 and not expected.problems and expected.guardianships
    roster = await fetch_roster(server.config("1.2", page_size=50))
    assert roster == expected
    users = [u for u in server.data_requests if u.startswith(f"{PATHS[ONEROSTER_12]}/users")]
    assert len(users) == -(-len(expected.people) // 50), users   # every page, once
    assert server.token_requests == 1


async def test_rest_11_is_the_csv_roster(server, school_folder):
    expected = dataclasses.replace(load_roster(school_folder), format=ONEROSTER_11)
    roster = await fetch_roster(server.config("1.1", page_size=64))
    assert roster == expected
    assert all(u.startswith(PATHS[ONEROSTER_11]) for u in server.data_requests)


@pytest.mark.parametrize("paging", [("total", "link"), ("total",), ("link",), ()],
                         ids=["total+link", "total", "link", "no-headers"])
async def test_paging_with_any_headers(school_folder, paging):
    s = OneRosterServer(school_folder, paging=paging)
    await s.start()
    try:
        roster = await fetch_roster(s.config("1.2", page_size=33))
    finally:
        await s.stop()
    assert roster == load_roster(school_folder)
    classes = [u for u in s.data_requests if "/classes" in u]
    assert len(classes) == (2 if not paging else 1), classes   # 22 classes: one page (+ an empty one without headers)


async def test_server_capping_the_limit_is_paged_to_the_end(school_folder):
    s = OneRosterServer(school_folder, paging=(), max_limit=40)   # asks 100, gets 40 at a time, no headers
    await s.start()
    try:
        roster = await fetch_roster(s.config("1.1"))
    finally:
        await s.stop()
    assert roster == dataclasses.replace(load_roster(school_folder), format=ONEROSTER_11)


async def test_a_401_fetches_one_fresh_token(server, school_folder):
    server.expire_tokens_after = 3        # the token stops working mid-way through the users
    roster = await fetch_roster(server.config("1.2", page_size=50))
    assert roster == load_roster(school_folder)
    assert server.token_requests == 2


async def test_401_with_a_fresh_token_too_is_an_error(server):
    server.reject_tokens = True
    with pytest.raises(RosterError) as e:
        await fetch_roster(server.config("1.2"))
    assert server.token_requests == 2, "exactly one refresh"
    assert e.value.file == f"{server.base_url}{PATHS[ONEROSTER_12]}/classes"
    assert "refused the access token, even a fresh one (HTTP 401)" in str(e.value)
    assert SCOPES[ONEROSTER_12] in e.value.hint


async def test_wrong_secret_is_a_clear_error(server):
    with pytest.raises(RosterError) as e:
        await fetch_roster(server.config("1.1", client_secret="wrong"))
    assert e.value.file == server.token_url and e.value.line is None
    assert e.value.reason == "the token server refused the client credentials (HTTP 401, invalid_client)"
    assert "client id and the client secret" in e.value.hint
    assert not server.data_requests
    set_language("ru")
    with pytest.raises(RosterError) as e:
        await fetch_roster(server.config("1.1", client_secret="wrong"))
    assert "отказал" in str(e.value) or "отклонил" in str(e.value), str(e.value)


async def test_scope_is_sent_and_a_wrong_one_is_named(server, school_folder):
    good = await fetch_roster(server.config("1.2", scope=SCOPES[ONEROSTER_12]))
    assert good == load_roster(school_folder)
    with pytest.raises(RosterError) as e:
        await fetch_roster(server.config("1.2", scope="everything"))
    assert e.value.reason == "the token server refused the scope everything"
    assert SCOPES[ONEROSTER_12] in e.value.hint


async def test_tobedeleted_records_are_left_out_and_reported(server, school_folder, tmp_path):
    school = generate_school("small")
    pupil, cls = school.pupils[3].source_id, school.classes[-1].source_id
    server.status[("users", pupil)] = "tobedeleted"
    server.status[("classes", cls)] = "tobedeleted"
    roster = await fetch_roster(server.config("1.2", page_size=50))
    assert pupil not in roster.people and cls not in roster.classes
    users = server.records("users", ONEROSTER_12)
    position = next(i for i, u in enumerate(users, 1) if u["sourcedId"] == pupil)
    assert RowProblem("users", position, "marked tobedeleted") in roster.problems
    assert any(p.file == "enrollments" and p.reason == f"person {pupil} is marked tobedeleted"
               for p in roster.problems)
    assert any(p.file == "enrollments" and p.reason == f"class {cls} is marked tobedeleted" for p in roster.problems)
    # the CSV export with the same rows marked reports the same reasons (its roles.csv row aside)
    csv_folder = tmp_path / "csv"
    write_oneroster(school, csv_folder)
    for name, source_id in (("users.csv", pupil), ("classes.csv", cls)):
        rows = read_csv(csv_folder / name)
        for r in rows:
            if r["sourcedId"] == source_id:
                r["status"] = "tobedeleted"
        with (csv_folder / name).open("w", encoding="utf-8", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
            w.writeheader()
            w.writerows(rows)
    from_csv = load_roster(csv_folder)
    assert Counter(p.reason for p in roster.problems) == Counter(
        p.reason for p in from_csv.problems if p.file != "roles.csv")
    assert dataclasses.replace(roster, problems=[]) == dataclasses.replace(from_csv, problems=[])


async def test_unknown_role_and_reference_are_problems_on_the_record(server, school_folder):
    roster_ok = load_roster(school_folder)
    users = server.records("users", ONEROSTER_12)
    enrollments = server.records("enrollments", ONEROSTER_12)
    users[0]["roles"] = [{"roleType": "primary", "role": "wizard"}]
    enrollments[-1]["class"] = {"sourcedId": "class-99z"}
    original = server.records

    def records(name, version):
        return {"users": users, "enrollments": enrollments}.get(name) or original(name, version)

    server.records = records
    roster = await fetch_roster(server.config("1.2"))
    assert RowProblem("users", 1, "unknown role wizard") in roster.problems
    assert RowProblem("enrollments", len(enrollments), "unknown class class-99z") in roster.problems
    assert len(roster.people) == len(roster_ok.people)   # the teacher still has a role from her enrollments


async def test_the_csv_written_back_reads_as_the_same_roster(server, tmp_path):
    roster = await fetch_roster(server.config("1.2", page_size=50))
    paths = write_roster_csv(roster, tmp_path / "out")
    assert [p.name for p in paths] == ["manifest.csv", "classes.csv", "users.csv", "enrollments.csv"]
    again = load_roster(tmp_path / "out")
    assert again == dataclasses.replace(roster, format=ONEROSTER_11)
    before = {p.name: p.read_bytes() for p in paths}
    write_roster_csv(roster, tmp_path / "out")
    assert {p.name: p.read_bytes() for p in paths} == before   # the same bytes: the watch's digest is stable


# -- whole-fetch errors ------------------------------------------------------------------------


async def test_unreachable_server(server):
    await server.stop()
    with pytest.raises(RosterError) as e:
        await fetch_roster(server.config("1.1"))
    assert e.value.file == server.token_url and "cannot reach the token server" in e.value.reason


async def test_wrong_path_and_non_json_answers(server):
    cfg = server.config("1.1")
    with pytest.raises(RosterError) as e:
        await fetch_roster(dataclasses.replace(cfg, base_url=server.base_url + "/elsewhere"))
    assert e.value.reason == "there is no OneRoster service at this address (HTTP 404)"
    assert PATHS[ONEROSTER_11] in e.value.hint
    with pytest.raises(RosterError) as e:
        await fetch_roster(dataclasses.replace(cfg, base_url=server.base_url + "/not-json"))
    assert e.value.reason == "the answer is not JSON"
    assert e.value.file == f"{server.base_url}/not-json{PATHS[ONEROSTER_11]}/classes"


async def test_next_link_to_another_server_is_refused(server):
    server.next_link_origin = "http://evil.example"
    with pytest.raises(RosterError) as e:
        await fetch_roster(server.config("1.2", page_size=5))
    assert "the next page is on another server" in e.value.reason


async def test_a_server_ignoring_offset_is_an_error(server):
    server.ignore_offset = True
    server.paging = ()
    with pytest.raises(RosterError) as e:
        await fetch_roster(server.config("1.2", page_size=5))
    assert "the same page again" in e.value.reason


async def test_other_collections_and_versions(server):
    async with OneRosterRestClient(server.config("1.1")) as client:
        orgs = await client.collection("orgs")
        sessions = await client.collection("academicSessions")
    assert [o["sourcedId"] for o in orgs] == ["org-1"] and sessions[0]["type"] == "schoolYear"
    assert rest_version("1.2") == rest_version("oneroster-1.2") == ONEROSTER_12
    with pytest.raises(ValueError):
        rest_version("1.0")
    assert RestConfig("https://sis.example/ims/oneroster/v1p1/", "t", "c", "s").service_url == \
        "https://sis.example/ims/oneroster/v1p1"
    assert "s3cret" not in repr(server.config())
