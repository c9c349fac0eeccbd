"""The OneRoster 1.2 Gradebook REST source (``bridge.sources.oneroster_rest``) against a local service.

:class:`Gradebook` is a small aiohttp service written from the 1.2 Gradebook REST Binding and
the 1EdTech Security Framework: ``POST /token`` (client credentials, HTTP Basic, 401 on a wrong
secret, 400 ``invalid_scope``), ``GET /ims/oneroster/gradebook/v1p2/{lineItems,results,categories}``
with ``limit``/``offset`` paging, ``X-Total-Count`` (or, in ``link`` mode, only ``Link: rel="next"``),
a per-page ``ETag`` answered by 304, and 401 for an absent or expired bearer token. The pupils
are made up.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from datetime import UTC, date, datetime

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bridge.model import LineItem, Result, ScoreStatus, SourceError
from bridge.sources.base import SOURCE_TYPES
from bridge.sources.oneroster_rest import GRADEBOOK_CREATEPUT, GRADEBOOK_READONLY, OneRosterRestSource, next_link

BASE = "/ims/oneroster/gradebook/v1p2"
CLIENT_ID, CLIENT_SECRET = "parta-bridge", "s3cret"


def ref(kind: str, sourced_id: str) -> dict:
    return {"href": f"https://sis.example{BASE}/{kind}s/{sourced_id}", "sourcedId": sourced_id, "type": kind}


def line_item(n: int, category: str = "cat-hw") -> dict:
    return {"sourcedId": f"li-{n}", "status": "active", "dateLastModified": "2024-09-10T08:00:00.000Z",
            "title": f"Задание {n}", "description": f"Параграф {n}", "assignDate": "2024-09-02T00:00:00.000Z",
            "dueDate": "2024-09-05T09:30:00.000Z", "class": ref("class", "class-7b-phys"),
            "school": ref("org", "school-1"), "category": ref("category", category),
            "resultValueMin": 1.0, "resultValueMax": 5.0}


def result(n: int, item: int, student: str, status: str = "fully graded", **extra) -> dict:
    return {"sourcedId": f"r-{n}", "status": "active", "dateLastModified": "2024-09-10T08:00:00.000Z",
            "lineItem": ref("lineItem", f"li-{item}"), "student": ref("user", student),
            "class": ref("class", "class-7b-phys"), "scoreStatus": status, **extra}


class Gradebook:
    """The service's state and its aiohttp app; ``requests`` logs (path, query, If-None-Match)."""

    def __init__(self, *, link: bool = False, max_limit: int = 100, total_on_304: bool = True):
        self.link, self.max_limit, self.total_on_304 = link, max_limit, total_on_304
        self.data: dict[str, list[dict]] = {
            "categories": [{"sourcedId": "cat-hw", "status": "active", "title": "Домашняя работа", "weight": 0.4},
                           {"sourcedId": "cat-lab", "status": "active", "title": "Лабораторная", "weight": 0.6}],
            "lineItems": [line_item(n, "cat-lab" if n == 2 else "cat-hw") for n in range(1, 8)],
            "results": [result(n, 1 + n % 7, f"stu-{n}", score=4.0, textScore="4", scoreDate="2024-09-06")
                        for n in range(1, 11)],
        }
        self.tokens: set[str] = set()
        self.issue_unusable_tokens = False
        self.wrong_shape: set[str] = set()       # collections answered as {"items": [...]}
        self.token_requests: list[dict] = []
        self.requests: list[tuple[str, dict, str | None]] = []
        self.app = web.Application()
        self.app.router.add_post("/token", self.token)
        self.app.router.add_get(BASE + "/{collection}", self.collection)
        self.app.router.add_put(BASE + "/lineItems/{id}", self.put_line_item)
        self.scopes: dict[str, str] = {}          # token -> the scope it was issued for
        self.read_only = False                    # the client may not have the createput scope

    async def put_line_item(self, request: web.Request) -> web.Response:
        """``putLineItem``: needs a token of the createput scope; the body's sourcedId must match."""
        bearer = request.headers.get("Authorization", "")[7:]
        if bearer not in self.tokens:
            return web.json_response({"imsx_codeMajor": "failure"}, status=401)
        if self.scopes.get(bearer) != GRADEBOOK_CREATEPUT:
            return web.json_response({"imsx_codeMajor": "failure", "imsx_description": "scope"}, status=403)
        body = (await request.json())["lineItem"]
        if body["sourcedId"] != request.match_info["id"]:
            return web.json_response({"imsx_codeMajor": "failure"}, status=400)
        self.data["lineItems"] = [li for li in self.data["lineItems"] if li["sourcedId"] != body["sourcedId"]] + [body]
        return web.json_response({"lineItem": body}, status=201)

    async def token(self, request: web.Request) -> web.Response:
        form = await request.post()
        self.token_requests.append(dict(form))
        try:
            kind, encoded = request.headers.get("Authorization", "").split(" ", 1)
            user, _, password = base64.b64decode(encoded).decode().partition(":")
        except ValueError:
            kind, user, password = "", "", ""
        if kind.lower() != "basic" or (user, password) != (CLIENT_ID, CLIENT_SECRET):
            return web.json_response({"error": "invalid_client"}, status=401,
                                     headers={"WWW-Authenticate": 'Basic realm="oneroster"'})
        if form.get("grant_type") != "client_credentials":
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        scope = next((sc for sc in (GRADEBOOK_READONLY, GRADEBOOK_CREATEPUT)
                      if sc in str(form.get("scope", "")).split()), None)
        if scope is None or (scope == GRADEBOOK_CREATEPUT and self.read_only):
            return web.json_response({"error": "invalid_scope"}, status=400)
        token = secrets.token_urlsafe(16)
        self.scopes[token] = scope
        if not self.issue_unusable_tokens:
            self.tokens.add(token)
        return web.json_response({"access_token": token, "token_type": "bearer", "expires_in": 3600,
                                  "scope": GRADEBOOK_READONLY})

    async def collection(self, request: web.Request) -> web.Response:
        name = request.match_info["collection"]
        self.requests.append((name, dict(request.query), request.headers.get("If-None-Match")))
        bearer = request.headers.get("Authorization", "")
        if not bearer.startswith("Bearer ") or bearer[7:] not in self.tokens:
            return web.json_response({"imsx_codeMajor": "failure", "imsx_severity": "error",
                                      "imsx_description": "invalid or expired token"}, status=401,
                                     headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
        if name not in self.data:
            return web.json_response({"imsx_codeMajor": "failure", "imsx_description": "unknown"}, status=404)
        limit = min(int(request.query.get("limit", 100)), self.max_limit)
        offset = int(request.query.get("offset", 0))
        items = self.data[name]
        key = "items" if name in self.wrong_shape else name
        body = json.dumps({key: items[offset:offset + limit]}, ensure_ascii=False).encode()
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        headers = {"ETag": etag}
        if self.link:
            if offset + limit < len(items):
                headers["Link"] = (f'<{BASE}/{name}?limit={limit}&offset={offset + limit}>; rel="next", '
                                   f'<{BASE}/{name}?limit={limit}&offset=0>; rel="first"')
        else:
            headers["X-Total-Count"] = str(len(items))
        if request.headers.get("If-None-Match") == etag:
            if not self.total_on_304:
                headers.pop("X-Total-Count", None)
            return web.Response(status=304, headers=headers)
        return web.Response(body=body, content_type="application/json", headers=headers)


async def serve(gradebook: Gradebook, page_size: int = 3, secret: str = CLIENT_SECRET):
    server = TestServer(gradebook.app, host="127.0.0.1")
    await server.start_server()
    src = OneRosterRestSource({
        "name": "school-api", "type": "oneroster_rest", "org": "school-1", "url": str(server.make_url(BASE)),
        "token_url": str(server.make_url("/token")), "client_id": CLIENT_ID, "client_secret": secret,
        "page_size": page_size})
    return server, src


@pytest.fixture
async def running():
    servers = []

    async def start(gradebook: Gradebook, **kw):
        server, src = await serve(gradebook, **kw)
        servers.append(server)
        return src

    yield start
    for server in servers:
        await server.close()


def by_id(snapshot) -> dict[str, LineItem | Result]:
    return {r.item_id: r for r in snapshot.records}


def test_registered_and_config_checked():
    assert SOURCE_TYPES["oneroster_rest"] is OneRosterRestSource
    with pytest.raises(ValueError, match="token_url"):
        OneRosterRestSource({"name": "s", "url": "https://x", "client_id": "a", "client_secret": "b"})


def test_next_link():
    header = '<https://sis.example/x?offset=0>; rel="first", </x?offset=6&limit=3>; rel="next"'
    assert next_link(header, "https://sis.example/x?offset=3") == "https://sis.example/x?offset=6&limit=3"
    assert next_link('<https://sis.example/x?offset=0>; rel="first"', "https://sis.example/") is None
    assert next_link("", "https://sis.example/") is None


async def test_paging_collects_all(running, http):
    gradebook = Gradebook()
    src = await running(gradebook)
    snap = await src.read(http, {})
    assert snap is not None and snap.complete
    records = by_id(snap)
    assert {f"li-{n}" for n in range(1, 8)} | {f"r-{n}" for n in range(1, 11)} == set(records)
    pages = [q["offset"] for name, q, _ in gradebook.requests if name == "lineItems"]
    assert pages == ["0", "3", "6"]                       # 7 line items, 3 a page: the third is short
    assert [q["offset"] for name, q, _ in gradebook.requests if name == "results"] == ["0", "3", "6", "9"]
    assert gradebook.token_requests == [{"grant_type": "client_credentials", "scope": GRADEBOOK_READONLY}]

    li2 = records["li-2"]
    assert isinstance(li2, LineItem)
    assert (li2.class_id, li2.title, li2.category, li2.subject) == (
        "class-7b-phys", "Задание 2", "Лабораторная", "Лабораторная")
    assert li2.assigned == date(2024, 9, 2) and li2.due == datetime(2024, 9, 5, 9, 30, tzinfo=UTC)
    assert li2.max_score == 5.0
    r1 = records["r-1"]
    assert isinstance(r1, Result)
    assert (r1.line_item_id, r1.student_id, r1.class_id, r1.title) == ("li-2", "stu-1", "class-7b-phys", "Задание 2")
    assert r1.status is ScoreStatus.FULLY_GRADED and r1.score == 4.0 and r1.text_score == "4" and r1.graded
    assert r1.score_date == date(2024, 9, 6) and src.problems == []


async def test_server_capping_limit_still_collects_all(running, http):
    gradebook = Gradebook(max_limit=2)                    # asks for 3, gets 2: X-Total-Count says go on
    src = await running(gradebook)
    assert len((await src.read(http, {})).records) == 17
    assert [q["offset"] for name, q, _ in gradebook.requests if name == "lineItems"] == ["0", "2", "4", "6"]


async def test_link_next_followed(running, http):
    gradebook = Gradebook(link=True)                      # no X-Total-Count, only Link: rel="next"
    src = await running(gradebook, page_size=4)
    assert len((await src.read(http, {})).records) == 17
    assert [q["offset"] for name, q, _ in gradebook.requests if name == "results"] == ["0", "4", "8"]


async def test_unchanged_gives_none_then_a_change_is_read(running, http):
    gradebook = Gradebook()
    src = await running(gradebook)
    first = await src.read(http, {})
    assert first is not None and set(first.validators) == {"lineItems.pages", "results.pages"}
    gradebook.requests.clear()
    assert await src.read(http, first.validators) is None
    assert all(inm for _, _, inm in gradebook.requests)   # every stored page asked conditionally
    assert {name for name, _, _ in gradebook.requests} == {"lineItems", "results"}

    gradebook.data["results"][9] = {**gradebook.data["results"][9], "score": 5.0, "textScore": "5"}   # last page
    second = await src.read(http, first.validators)
    assert second is not None and by_id(second)["r-10"].score == 5.0
    assert await src.read(http, second.validators) is None


@pytest.mark.parametrize("link, total_on_304", [(False, True), (False, False), (True, False)])
async def test_a_record_after_a_full_last_page_is_seen(running, http, link, total_on_304):
    # the full last page itself is unchanged (304): X-Total-Count on the 304, or a read past it, must tell
    gradebook = Gradebook(link=link, total_on_304=total_on_304)
    gradebook.data["results"] = gradebook.data["results"][:9]          # 9 results: three full pages
    src = await running(gradebook)
    first = await src.read(http, {})
    gradebook.data["results"].append(result(10, 1, "stu-10", "submitted"))
    second = await src.read(http, first.validators)
    assert second is not None and "r-10" in by_id(second)


async def test_missing_submitted_and_graded_kept_apart(running, http):
    gradebook = Gradebook()
    gradebook.data["results"] = [
        result(1, 1, "stu-1", "fully graded", score=5.0, textScore="5", late="false", missing="false"),
        result(2, 1, "stu-2", "submitted", late="true"),
        result(3, 1, "stu-3", "not submitted", missing="true"),
        result(4, 1, "stu-4", "exempt"),
        result(5, 1, "stu-5", "partially graded", score=2.5, incomplete=True),
    ]
    records = by_id(await (await running(gradebook)).read(http, {}))
    assert records["r-1"].graded and not records["r-1"].missing
    assert records["r-2"].status is ScoreStatus.SUBMITTED and records["r-2"].late and not records["r-2"].graded
    assert not records["r-2"].missing
    assert records["r-3"].status is ScoreStatus.NOT_SUBMITTED and records["r-3"].missing
    assert records["r-4"].status is ScoreStatus.EXEMPT and not records["r-4"].missing
    assert records["r-5"].incomplete and records["r-5"].score == 2.5


async def test_tobedeleted_and_bad_records(running, http):
    gradebook = Gradebook()
    gradebook.data["lineItems"][0]["status"] = "tobedeleted"          # li-1, with its result r-7
    gradebook.data["results"][0] = {**gradebook.data["results"][0], "scoreDate": "06.09.2024"}
    gradebook.data["results"][1]["status"] = "tobedeleted"
    src = await running(gradebook)
    records = by_id(await src.read(http, {}))
    assert "li-1" not in records and not {"r-1", "r-2", "r-7"} & set(records) and "r-3" in records
    assert len(src.problems) == 1
    assert src.problems[0].endswith("results?limit=3&offset=0 results[0] r-1.scoreDate: bad date '06.09.2024'; "
                                    "the service must send ISO 8601 dates")


async def test_wrong_secret_names_the_token_url(running, http):
    src = await running(Gradebook(), secret="wrong")
    with pytest.raises(SourceError) as e:
        await src.read(http, {})
    assert e.value.retry is False
    assert str(e.value).startswith(f"{src.auth.token_url}: the journal refused the client credentials (HTTP 401)")


async def test_token_fetched_again_after_401(running, http):
    gradebook = Gradebook()
    src = await running(gradebook)
    first = await src.read(http, {})
    gradebook.tokens.clear()                               # the service expired every token early
    gradebook.data["lineItems"][0] = {**gradebook.data["lineItems"][0], "title": "Задание 1 (исправлено)"}
    second = await src.read(http, first.validators)
    assert second is not None and by_id(second)["li-1"].title == "Задание 1 (исправлено)"
    assert len(gradebook.token_requests) == 2


async def test_token_refused_twice_is_not_retried(running, http):
    gradebook = Gradebook()
    gradebook.issue_unusable_tokens = True                 # tokens the gradebook endpoints never accept
    with pytest.raises(SourceError, match="refused a fresh token") as e:
        await (await running(gradebook)).read(http, {})
    assert e.value.retry is False
    assert len(gradebook.token_requests) == 2


async def test_wrong_url_is_not_retried(running, http):
    gradebook = Gradebook()
    src = await running(gradebook)
    src.url = src.url.replace("v1p2", "v1p1")
    with pytest.raises(SourceError, match="HTTP 404") as e:
        await src.read(http, {})
    assert e.value.retry is False


async def test_not_a_oneroster_answer(running, http):
    gradebook = Gradebook()
    gradebook.wrong_shape = {"categories"}
    with pytest.raises(SourceError, match="no 'categories' list in the answer") as e:
        await (await running(gradebook)).read(http, {})
    assert e.value.retry is False


async def test_homework_from_the_chat_is_written_back(running, http):
    gradebook = Gradebook()
    src = await running(gradebook)
    item = LineItem(source="chat", item_id="chat-hw-1", class_id="class-7b-phys", title="Выучить стих",
                    due=date(2026, 9, 5), assigned=date(2026, 9, 2))
    await src.write_line_item(http, item)
    written = next(li for li in gradebook.data["lineItems"] if li["sourcedId"] == "chat-hw-1")
    assert written["title"] == "Выучить стих" and written["dueDate"] == "2026-09-05"
    assert written["class"]["sourcedId"] == "class-7b-phys"
    # the next reading has it, like any line item of the journal
    snap = await src.read(http, {})
    assert "chat-hw-1" in by_id(snap)
    # a client the journal lets only read: a clear error, nothing written
    gradebook.read_only = True
    src.write_auth.forget()
    with pytest.raises(SourceError, match="/token") as e:
        await src.write_line_item(http, LineItem(source="chat", item_id="chat-hw-2", class_id="class-7b-phys",
                                                 title="Ещё задание"))
    assert e.value.retry is False
    assert not [li for li in gradebook.data["lineItems"] if li["sourcedId"] == "chat-hw-2"]
