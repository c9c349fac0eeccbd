"""The OneRoster 1.2 Gradebook REST service: ``type: oneroster_rest``.

Config (one entry of the bridge's ``sources:``)::

    {"name": "school-api", "type": "oneroster_rest", "org": "school-1",
     "url": "https://sis.example/ims/oneroster/gradebook/v1p2",
     "token_url": "https://sis.example/oauth/token", "client_id": "...", "client_secret": "...",
     "scope": "https://purl.imsglobal.org/spec/or/v1p2/scope/gradebook.readonly",   # optional
     "page_size": 100}                                                             # optional

Reads ``GET {url}/lineItems``, ``{url}/results`` and ``{url}/categories`` (JSON
``{"lineItems": [...]}``, ``{"results": [...]}``, ``{"categories": [...]}``), page by page with
``limit``/``offset``: a ``Link: <...>; rel="next"`` header is followed when given, else paging
stops at ``X-Total-Count`` or at a short page. Records with ``status: tobedeleted`` (and the
results of such a line item) are left out; a malformed record is skipped and described in
:attr:`OneRosterRestSource.problems`.

Sources followed: OneRoster 1.2 Gradebook Service REST Binding (§3 endpoints, §3.3 paging
with limit/offset, X-Total-Count and Link; §4 lineItem, result, category JSON; references
``{"href", "sourcedId", "type"}``), 1EdTech Security Framework 1.1 (OAuth 2 client
credentials, scope ``.../gradebook.readonly``), RFC 9110 §13.1 (conditional requests), RFC 8288 (Link).

Conditional requests: every page of ``lineItems`` and ``results`` is stored with its URL and
validators in the snapshot's validators (as JSON under ``"lineItems.pages"`` and
``"results.pages"``); the next read asks each stored page conditionally and returns None when
all answer 304 (and any ``X-Total-Count`` on them is unchanged). A full last page keeps no
validators, since a record added after it would leave it unchanged: such a collection is read in
full each time. Categories are only read when something changed (a renamed category alone
waits for the next change of line items or results).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from urllib.parse import urlencode, urljoin

import aiohttp

from bridge.model import LineItem, Record, Result, ScoreStatus, Snapshot, SourceError
from bridge.sources.base import source_type
from bridge.sources.http import HttpClient, OAuth2ClientCredentials
from bridge.sources.oneroster_csv import RowError, parse_bool, parse_float, parse_status

GRADEBOOK_READONLY = "https://purl.imsglobal.org/spec/or/v1p2/scope/gradebook.readonly"
GRADEBOOK_CREATEPUT = "https://purl.imsglobal.org/spec/or/v1p2/scope/gradebook.createput"


@dataclass
class Page:
    """One answer of the service: 200 with the JSON body, or 304 (``body`` None); headers lower-cased."""

    url: str
    status: int
    body: object = None
    headers: Mapping[str, str] | None = None
    validators: dict | None = None


def next_link(header: str, base: str) -> str | None:
    """The ``rel="next"`` target of a ``Link`` header (RFC 8288), resolved against ``base``; None without one."""
    for part in header.split(","):
        if not re.search(r';\s*rel\s*=\s*"?[^"]*\bnext\b', part, re.IGNORECASE):
            continue
        target = re.search(r"<([^>]*)>", part)
        if target:
            return urljoin(base, target.group(1).strip())
    return None


def _headers(raw: Mapping[str, str]) -> dict[str, str]:
    """Response headers with lower-cased names, repeated ones (``Link``) joined by ", " (RFC 9110 §5.3)."""
    out: dict[str, str] = {}
    for key, value in raw.items():
        key = key.lower()
        out[key] = f"{out[key]}, {value}" if key in out else value
    return out


def _ref(obj: Mapping, key: str) -> str:
    """``sourcedId`` of a reference ``{"href", "sourcedId", "type"}`` (or a bare id string); "" when absent."""
    value = obj.get(key)
    if isinstance(value, Mapping):
        return str(value.get("sourcedId") or "")
    return str(value or "")


def _text(obj: Mapping, key: str) -> str:
    value = obj.get(key)
    return "" if value is None else str(value).strip()


def _when(obj: Mapping, key: str) -> date | datetime | None:
    """A DateTime (``2024-09-02T00:00:00.000Z``) as an aware datetime, a Date as a date. Raises RowError."""
    value = _text(obj, key)
    if not value:
        return None
    try:
        return date.fromisoformat(value) if len(value) == 10 else datetime.fromisoformat(value)
    except ValueError:
        raise RowError(key, f"bad date {value!r}; the service must send ISO 8601 dates") from None


def _day(obj: Mapping, key: str) -> date | None:
    value = _when(obj, key)
    return value.date() if isinstance(value, datetime) else value


@source_type("oneroster_rest")
class OneRosterRestSource:
    """A OneRoster 1.2 Gradebook service; :meth:`read` gives its line items and results.

    ``problems``: after each read that fetched the collections, the records skipped, each as
    ``"{collection url} {collection}[{index}] {sourcedId}.{field}: reason"``.
    """

    def __init__(self, config: Mapping):
        for key in ("name", "url", "token_url", "client_id", "client_secret"):
            if not config.get(key):
                raise ValueError(f"sources[{config.get('name', '?')}]: {key} is required for type oneroster_rest")
        self.name: str = str(config["name"])
        self.org: str = str(config.get("org", ""))
        self.url = str(config["url"]).rstrip("/")
        self.page_size = int(config.get("page_size", 100))
        # One credentials object per source, so that its token is reused until it expires.
        self.auth = OAuth2ClientCredentials(str(config["token_url"]), str(config["client_id"]),
                                            str(config["client_secret"]),
                                            str(config.get("scope") or GRADEBOOK_READONLY))
        self.problems: list[str] = []
        #: ``write: true``: homework teachers post with ``!дз`` is written back (``PUT lineItems/{id}``)
        self.writable = bool(config.get("write", False))
        self.write_category = str(config.get("write_category") or "homework")
        self.write_auth = OAuth2ClientCredentials(str(config["token_url"]), str(config["client_id"]),
                                                  str(config["client_secret"]), GRADEBOOK_CREATEPUT)

    async def write_line_item(self, http: HttpClient, item: LineItem, school: str = "") -> None:
        """Create or replace ``item`` in the service: ``PUT {url}/lineItems/{sourcedId}`` with the
        ``gradebook.createput`` scope (OneRoster 1.2 Gradebook REST §3, ``putLineItem``).

        Raises SourceError naming the URL when the service refuses (``retry=False`` for 4xx).
        """
        now = datetime.now().astimezone().isoformat(timespec="milliseconds")
        body = {"lineItem": {
            "sourcedId": item.item_id, "status": "active", "dateLastModified": now, "title": item.title,
            "description": item.description, "assignDate": (item.assigned or date.today()).isoformat(),
            "dueDate": (item.due or item.assigned or date.today()).isoformat(),
            "class": {"sourcedId": item.class_id, "type": "class"},
            "school": {"sourcedId": school or self.org, "type": "org"},
            "category": {"sourcedId": self.write_category, "type": "category"}}}
        url = f"{self.url}/lineItems/{item.item_id}"
        for attempt in (1, 2):
            token = await self.write_auth.token(http.session)
            try:
                async with http.session.put(url, json=body, headers={"Authorization": f"Bearer {token}"}) as r:
                    if r.status == 401 and attempt == 1:
                        self.write_auth.forget()
                        continue
                    if r.status >= 400:
                        raise SourceError(f"{url}: the journal did not accept the homework (HTTP {r.status}); "
                                          "check that the client may write (scope gradebook.createput)",
                                          retry=r.status >= 500)
                    return
            except aiohttp.ClientError as e:
                raise SourceError(f"{url}: {e}") from e

    # -- HTTP ------------------------------------------------------------------------------------

    def _page(self, collection: str, offset: int) -> str:
        return f"{self.url}/{collection}?{urlencode({'limit': self.page_size, 'offset': offset})}"

    async def _get(self, http: HttpClient, url: str, validators: Mapping[str, str] | None = None) -> Page:
        """GET one page with the bearer token (``HttpClient.fetch``: fetched again once after a 401),
        keeping the headers paging needs (``X-Total-Count``, ``Link``). Raises SourceError."""
        a = await http.fetch(url, validators=validators, auth=self.auth, headers={"Accept": "application/json"})
        if a.status == 304:
            return Page(url, 304, headers=a.headers)
        if a.status == 401:
            raise SourceError(f"{url}: the journal refused a fresh token (HTTP 401); check that "
                              f"client {self.auth.client_id!r} may read the gradebook", retry=False)
        if a.status == 403:
            raise SourceError(f"{url}: HTTP 403 Forbidden; grant the client the scope {self.auth.scope}", retry=False)
        if 400 <= a.status < 500:
            raise SourceError(f"{url}: HTTP {a.status}; check url in the bridge's config "
                              "(it ends in /ims/oneroster/gradebook/v1p2)", retry=a.status in (408, 429))
        if a.status >= 500:
            raise SourceError(f"{url}: the journal answered HTTP {a.status}; it will be asked again")
        try:
            body = json.loads(a.body)
        except ValueError:
            raise SourceError(f"{url}: the answer is not JSON; check url in the bridge's config", retry=False) from None
        return Page(url, 200, body, a.headers, a.validators)

    async def _collection(self, http: HttpClient, collection: str,
                          cached: Mapping[str, Page]) -> tuple[list[tuple[str, int, Mapping]], list[dict]]:
        """Every object of ``collection`` as (page url, index, object), and the pages' {url, etag, last_modified}.

        Follows ``Link: rel="next"``; without one, ``offset`` goes on until ``X-Total-Count``
        (which wins over a short page: a server may cap ``limit``) or, without that, until a short
        or empty page. ``cached``: 200 pages already fetched by the conditional check. Each page is
        stored as ``{"url", "etag"?, "last_modified"?, "total"?}``. Raises SourceError.
        """
        url: str | None = self._page(collection, 0)
        offset, seen = 0, set()
        objects: list[tuple[str, int, Mapping]] = []
        pages: list[dict] = []
        sizes: list[int] = []
        while url is not None:
            if url in seen:             # a server whose next link loops: stop rather than spin
                break
            seen.add(url)
            page = cached.get(url) or await self._get(http, url)
            body = page.body
            items = body.get(collection) if isinstance(body, Mapping) else None
            if not isinstance(items, list):
                raise SourceError(f"{url}: no {collection!r} list in the answer; check url in the bridge's "
                                  "config (it ends in /ims/oneroster/gradebook/v1p2)", retry=False)
            objects.extend((url, i, obj) for i, obj in enumerate(items) if isinstance(obj, Mapping))
            headers = page.headers or {}
            pages.append({"url": url, **(page.validators or {}),
                          **({"total": headers["x-total-count"]} if "x-total-count" in headers else {})})
            sizes.append(len(items))
            offset += len(items)
            link = next_link(headers.get("link", ""), url)
            total = headers.get("x-total-count", "").strip()
            if link:
                url = link
            elif not items:
                url = None
            elif total.isdigit():
                # X-Total-Count first: a server may cap limit, so a short page need not be the last
                url = None if offset >= int(total) else self._page(collection, offset)
            elif len(items) < self.page_size:
                url = None
            else:
                url = self._page(collection, offset)
        # A full last page stays the same (and answers 304) when a record is added after it, so its
        # validators are dropped: the next read then reads the collection in full.
        if pages and sizes[-1] and (sizes[-1] >= self.page_size or (len(sizes) > 1 and sizes[-1] >= sizes[0])):
            pages[-1] = {"url": pages[-1]["url"]}
        return objects, pages

    # -- reading ---------------------------------------------------------------------------------

    async def read(self, http: HttpClient, validators: Mapping[str, str]) -> Snapshot | None:
        """The service's line items and results, or None when every stored page of both answers 304.

        Returns ``Snapshot(complete=True)`` (the collections are read whole) with validators
        ``{"lineItems.pages": json, "results.pages": json}``. Raises SourceError: ``retry=False``
        for refused credentials (naming ``token_url``), a wrong URL or a non-OneRoster answer;
        ``retry=True`` for network failures and 5xx.
        """
        cached: dict[str, Page] = {}
        stored = {c: self._stored_pages(validators, c) for c in ("lineItems", "results")}
        if all(stored.values()):
            unchanged = True
            for collection in ("lineItems", "results"):
                for page in stored[collection]:
                    answer = await self._get(http, page["url"], page)
                    total = (answer.headers or {}).get("x-total-count")
                    if answer.status == 304 and (total is None or total == page.get("total", total)):
                        continue
                    unchanged = False
                    if answer.status == 200:
                        cached[page["url"]] = answer
                    break           # one changed page is enough: the rest is read in full below
                if not unchanged:
                    break
            if unchanged:
                return None

        problems: list[str] = []
        category_objs, _ = await self._collection(http, "categories", {})
        categories = {_ref(o, "sourcedId"): _text(o, "title") for _, _, o in category_objs
                      if _text(o, "status").lower() != "tobedeleted"}
        item_objs, item_pages = await self._collection(http, "lineItems", cached)
        result_objs, result_pages = await self._collection(http, "results", cached)

        line_items: dict[str, LineItem] = {}
        deleted: set[str] = set()
        for url, i, obj in item_objs:
            if _text(obj, "status").lower() == "tobedeleted":
                deleted.add(_text(obj, "sourcedId"))
                continue
            try:
                item = self._line_item(obj, categories)
            except RowError as e:
                problems.append(f"{url} lineItems[{i}] {_text(obj, 'sourcedId') or '?'}.{e.column}: {e}")
                continue
            line_items[item.item_id] = item

        results: dict[str, Result] = {}
        for url, i, obj in result_objs:
            if _text(obj, "status").lower() == "tobedeleted" or _ref(obj, "lineItem") in deleted:
                continue
            try:
                result = self._result(obj, line_items)
            except RowError as e:
                problems.append(f"{url} results[{i}] {_text(obj, 'sourcedId') or '?'}.{e.column}: {e}")
                continue
            results[result.item_id] = result

        self.problems = problems
        records: list[Record] = [*line_items.values(), *results.values()]
        return Snapshot(records=tuple(records), complete=True,
                        validators={"lineItems.pages": json.dumps(item_pages),
                                    "results.pages": json.dumps(result_pages)})

    @staticmethod
    def _stored_pages(validators: Mapping[str, str], collection: str) -> list[dict]:
        """The pages of the previous read that carry a validator; [] when any lacks one (nothing to ask)."""
        try:
            pages = json.loads(validators.get(f"{collection}.pages") or "[]")
        except ValueError:
            return []
        if not isinstance(pages, list) or not all(
                isinstance(p, dict) and p.get("url") and (p.get("etag") or p.get("last_modified")) for p in pages):
            return []
        return pages

    def _line_item(self, obj: Mapping, categories: Mapping[str, str]) -> LineItem:
        """A LineItem from a 1.2 ``lineItem`` (§4.3). Raises RowError naming the field."""
        item_id, title, class_id = _text(obj, "sourcedId"), _text(obj, "title"), _ref(obj, "class")
        for key, value in (("sourcedId", item_id), ("title", title), ("class", class_id)):
            if not value:
                raise RowError(key, "missing; the service must send it")
        category = categories.get(_ref(obj, "category"), "")
        return LineItem(source=self.name, item_id=item_id, class_id=class_id, title=title,
                        description=_text(obj, "description"), subject=category, category=category,
                        assigned=_day(obj, "assignDate"), due=_when(obj, "dueDate"),
                        max_score=parse_float(obj.get("resultValueMax"), "resultValueMax"))

    def _result(self, obj: Mapping, line_items: Mapping[str, LineItem]) -> Result:
        """A Result from a 1.2 ``result`` (§4.6; scoreStatus §4.13.5). Raises RowError naming the field."""
        result_id, item_id, student_id = _text(obj, "sourcedId"), _ref(obj, "lineItem"), _ref(obj, "student")
        for key, value in (("sourcedId", result_id), ("lineItem", item_id), ("student", student_id)):
            if not value:
                raise RowError(key, "missing; the service must send it")
        status = parse_status(_text(obj, "scoreStatus"))
        item = line_items.get(item_id)
        return Result(
            source=self.name, item_id=result_id, line_item_id=item_id, student_id=student_id,
            class_id=_ref(obj, "class") or (item.class_id if item else ""), status=status,
            score=parse_float(obj.get("score"), "score"), text_score=_text(obj, "textScore"),
            comment=_text(obj, "comment"), score_date=_day(obj, "scoreDate"),
            late=parse_bool(obj.get("late"), "late"), incomplete=parse_bool(obj.get("incomplete"), "incomplete"),
            missing=parse_bool(obj.get("missing"), "missing") or status is ScoreStatus.NOT_SUBMITTED,
            title=item.title if item else "", subject=item.subject if item else "")
