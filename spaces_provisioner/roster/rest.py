"""A client of the OneRoster 1.1 and 1.2 REST binding (the Rostering service) → :class:`Roster`.

Public API::

    RestConfig(base_url, token_url, client_id, client_secret, version="oneroster-1.1", scope="")
    await fetch_roster(config) -> policies.model.Roster          # raises RosterError
    async with OneRosterRestClient(config) as client:
        await client.collection("orgs") -> list[dict]             # every page of one collection
        await client.fetch_roster() -> Roster

Sources:

- 1EdTech "OneRoster Version 1.1 Final Specification" (REST binding, JSON): the Rostering
  endpoints ``GET {base}/ims/oneroster/v1p1/users``, ``/classes``, ``/enrollments``, ``/orgs``,
  ``/academicSessions`` (getAllUsers, getAllClasses, ...), the collection answers
  ``{"users": [...]}``, ``{"classes": [...]}``..., and the "Pagination" section: query
  parameters ``limit`` (default 100) and ``offset``, the ``X-Total-Count`` response header and
  the ``Link`` header with ``rel="next"``/``"last"``/``"first"``/``"prev"``.
- 1EdTech "OneRoster Rostering Service REST/JSON Binding 1.2" (Final Release 1.0, 19 September
  2022): the same endpoints under ``{base}/ims/oneroster/rostering/v1p2/``, the same paging, and
  the 1.2 user, whose single ``role`` becomes ``roles: [{roleType: primary|secondary, role,
  org: {sourcedId}}]``.
- Authorization (OneRoster 1.2 and the later OneRoster 1.1 conformance, after the 1EdTech
  Security Framework): the OAuth 2 client-credentials grant (RFC 6749 §4.4), the client id and
  secret sent by HTTP Basic (RFC 6749 §2.3.1: each form-urlencoded first), ``scope`` optional
  (the read scope is :data:`SCOPES`), the access token sent as ``Authorization: Bearer``
  (RFC 6750).

Shapes read (every other field is ignored)::

    user        {sourcedId, status, givenName, familyName, middleName,
                 role (1.1) | roles: [{roleType, role, org}] (1.2),
                 agents: [{sourcedId}], grades: ["05"], orgs: [{sourcedId}]}
    class       {sourcedId, status, title, grades: ["05"]}
    enrollment  {sourcedId, status, user: {sourcedId}, class: {sourcedId}, role, primary}

The records go through :class:`.build.RosterBuilder` exactly as the CSV binding's rows do
(:mod:`.oneroster`), so a REST roster and a CSV export of the same school are the same
:class:`Roster`: ``status`` ``tobedeleted`` is left out and reported, unknown references,
roles and duplicates are problems. A problem's ``file`` is the collection (``users``,
``classes``, ``enrollments``) and its ``line`` the record's 1-based position in the
collection as the server paged it; a 1.2 user's role problems are reported on the user's
record.

Errors of the whole fetch (the token server or the OneRoster server unreachable, the client
credentials refused, HTTP 401 even with a fresh token, any other HTTP error, an answer that is
not JSON or lacks its collection) raise :class:`RosterError` whose ``file`` is the URL at fault.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote_plus, urlsplit

import aiohttp

from policies.i18n import _
from policies.model import Roster

from .build import RosterBuilder
from .errors import RosterError
from .oneroster import ONEROSTER_11, ONEROSTER_12, _classes, _enrollments, _roles, _users
from .source import Row, Table

__all__ = ["PATHS", "SCOPES", "OneRosterRestClient", "RestConfig", "fetch_roster", "rest_version"]

#: The Rostering service's path under the base URL, per version.
PATHS = {ONEROSTER_11: "/ims/oneroster/v1p1", ONEROSTER_12: "/ims/oneroster/rostering/v1p2"}
#: The read-only rostering scope of each version (sent only when configured).
SCOPES = {
    ONEROSTER_11: "https://purl.imsglobal.org/spec/or/v1p1/scope/roster-core.readonly",
    ONEROSTER_12: "https://purl.imsglobal.org/spec/or/v1p2/scope/roster-core.readonly",
}
#: The collections :meth:`OneRosterRestClient.fetch_roster` reads (the roster needs no others).
ROSTER_COLLECTIONS = ("classes", "users", "enrollments")
#: Every collection :meth:`OneRosterRestClient.collection` knows, with its key in the answer.
COLLECTIONS = {"users": "users", "classes": "classes", "enrollments": "enrollments", "orgs": "orgs",
               "academicSessions": "academicSessions"}
DEFAULT_PAGE_SIZE = 100
#: A fetch stops with an error after this many pages of one collection (a server that never ends).
MAX_PAGES = 100_000
#: A token is renewed this many seconds before its ``expires_in`` runs out.
TOKEN_MARGIN_S = 30.0


def rest_version(word: str) -> str:
    """``"1.1"``/``"1.2"`` (or ``oneroster-1.1``/``oneroster-1.2``) as :data:`ONEROSTER_11`/``_12``.

    Raises ValueError for any other word.
    """
    value = word.strip().lower().removeprefix("oneroster-").removeprefix("v")
    value = {"1p1": "1.1", "1p2": "1.2", "1.1.0": "1.1", "1.2.0": "1.2"}.get(value, value)
    if value == "1.1":
        return ONEROSTER_11
    if value == "1.2":
        return ONEROSTER_12
    raise ValueError(f"unsupported OneRoster version {word!r}; use 1.1 or 1.2")


@dataclass(frozen=True)
class RestConfig:
    """Where and how to read a roster over the REST binding.

    ``base_url``: the provider's root (``https://sis.example``), the Rostering service being
    ``{base_url}/ims/oneroster/v1p1`` (1.1) or ``.../rostering/v1p2`` (1.2); a ``base_url``
    that already ends in that path is taken as it is. ``token_url``: the OAuth 2 token
    endpoint. ``version``: ``1.1``/``1.2`` or :data:`ONEROSTER_11`/``_12``. ``scope``: sent
    with the token request when not empty. ``page_size``: the ``limit`` asked for.
    """

    base_url: str
    token_url: str
    client_id: str
    client_secret: str = field(repr=False)
    version: str = ONEROSTER_11
    scope: str = ""
    page_size: int = DEFAULT_PAGE_SIZE
    timeout_s: float = 60.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "version", rest_version(self.version))
        if self.page_size < 1:
            raise ValueError("page_size must be at least 1")

    @property
    def service_url(self) -> str:
        """The Rostering service's URL, without a final slash."""
        base = self.base_url.rstrip("/")
        path = PATHS[self.version]
        return base if base.endswith(path) else base + path


async def fetch_roster(config: RestConfig) -> Roster:
    """The whole roster the REST service of ``config`` serves (see the module docstring)."""
    async with OneRosterRestClient(config) as client:
        return await client.fetch_roster()


class OneRosterRestClient:
    """``async with OneRosterRestClient(config) as client: roster = await client.fetch_roster()``.

    Gets a token on the first request and renews it when it expires; a request answered
    HTTP 401 is retried once with a fresh token.
    """

    def __init__(self, config: RestConfig) -> None:
        self.config = config
        self.session: aiohttp.ClientSession | None = None
        self._token: str | None = None
        self._token_expires = 0.0
        self.token_requests = 0

    async def __aenter__(self) -> OneRosterRestClient:
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.config.timeout_s))
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.session is not None:
            await self.session.close()
            self.session = None

    # -- the roster -------------------------------------------------------------------
    async def fetch_roster(self) -> Roster:
        """Read classes, users and enrollments and build the :class:`Roster` (format = the version)."""
        version = self.config.version
        records = {name: await self.collection(name) for name in ROSTER_COLLECTIONS}
        tables = {name: _table(name, records[name], version) for name in ROSTER_COLLECTIONS}
        b = RosterBuilder(version)
        _classes(b, tables["classes"])
        _users(b, tables["users"], version)
        if version == ONEROSTER_12:
            _roles(b, _roles_table(records["users"], tables["users"]))
        _enrollments(b, tables["enrollments"])
        return b.build()

    # -- paging -----------------------------------------------------------------------
    def endpoint(self, name: str) -> str:
        """The URL of collection ``name`` (``users``, ``classes``...)."""
        return f"{self.config.service_url}/{name}"

    async def collection(self, name: str) -> list[Any]:
        """Every record of collection ``name``, page after page.

        Pages are asked for with ``limit``/``offset``. A ``Link: rel="next"`` is followed
        (only to the service's own origin: the token goes nowhere else); else
        ``X-Total-Count`` says when to stop; else a ``Link`` header without ``next`` marks
        the last page; with no paging headers at all, the pages go on until an empty one. A
        server that ignores ``limit`` (sends more than asked) is taken to have sent the whole
        collection; one that ignores ``offset`` is an error unless everything fitted in one
        page.
        """
        key = COLLECTIONS[name]
        limit = self.config.page_size
        base = self.endpoint(name)
        url: str = base
        params: dict[str, str] | None = {"limit": str(limit), "offset": "0"}
        records: list[Any] = []
        previous: list[Any] | None = None
        followed: set[str] = set()
        for _page in range(MAX_PAGES):
            body, response = await self._get(url, params, base)
            page = body.get(key) if isinstance(body, dict) else None
            if not isinstance(page, list):
                raise RosterError(base, None, _("the answer has no {key} list").format(key=key),
                                  _("Check the base URL and the OneRoster version: the {version} Rostering service"
                                    " answers at {path}.").format(version=_version_title(self.config.version),
                                                                  path=PATHS[self.config.version]))
            if not page:
                return records
            if previous is not None and page == previous:
                if len(page) < limit:  # the server ignores offset, but it had sent everything
                    return records
                raise RosterError(base, None,
                                  _("the server sent the same page again for offset {offset}").format(
                                      offset=len(records)),
                                  _("The server does not page with limit and offset; ask the provider to"
                                    " support OneRoster paging."))
            records.extend(page)
            previous = page
            next_url = _next_link(response)
            if next_url is not None:
                if _origin(next_url) != _origin(base):
                    raise RosterError(base, None,
                                      _("the next page is on another server: {url}").format(url=_origin(next_url)),
                                      _("The access token is sent to the OneRoster server only; ask the provider"
                                        " to link pages on the same server."))
                if next_url in followed:
                    return records
                followed.add(next_url)
                url, params = next_url, None
                continue
            total = _total_count(response)
            if len(page) > limit or (total is not None and len(records) >= total) or (
                    total is None and response.has_links):
                return records
            url, params = base, {"limit": str(limit), "offset": str(len(records))}
        raise RosterError(base, None, _("more than {n} pages").format(n=MAX_PAGES),
                          _("The server does not stop paging; ask the provider."))

    async def _get(self, url: str, params: dict[str, str] | None, base: str) -> tuple[Any, _Response]:
        """One GET with the bearer token (a 401 retried once with a fresh token): the JSON and the headers."""
        assert self.session is not None, "use OneRosterRestClient in 'async with'"
        for attempt in (1, 2):
            token = await self.token(fresh=attempt == 2)
            try:
                async with self.session.get(url, params=params, headers={
                        "Authorization": f"Bearer {token}", "Accept": "application/json"}) as r:
                    text = await r.text(errors="replace")
                    response = _Response(r.status, r.headers.get("X-Total-Count", ""),
                                         [(str(link.get("rel", "")), str(link.get("url", "")))
                                          for link in r.links.values()])
            except (TimeoutError, aiohttp.ClientError, ValueError) as e:
                raise RosterError(base, None,
                                  _("cannot reach the OneRoster server ({error})").format(error=_why(e)),
                                  _("Check the base URL and that the server is reachable from this machine;"
                                    " the roster is read again at the next run.")) from e
            if response.status == 401 and attempt == 1:
                continue
            _check_status(response.status, base, self.config)
            try:
                return json.loads(text), response
            except ValueError as e:
                raise RosterError(base, None, _("the answer is not JSON"),
                                  _("Check the base URL: it must be the provider's OneRoster REST service,"
                                    " not a web page.")) from e
        raise AssertionError("unreachable")  # pragma: no cover

    # -- the token --------------------------------------------------------------------
    async def token(self, fresh: bool = False) -> str:
        """An access token (a new one when ``fresh``, none held, or the held one expired)."""
        if self._token is not None and not fresh and time.monotonic() < self._token_expires:
            return self._token
        assert self.session is not None, "use OneRosterRestClient in 'async with'"
        cfg = self.config
        data = {"grant_type": "client_credentials"}
        if cfg.scope:
            data["scope"] = cfg.scope
        auth = aiohttp.BasicAuth(quote_plus(cfg.client_id), quote_plus(cfg.client_secret))
        self.token_requests += 1
        try:
            async with self.session.post(cfg.token_url, data=data, auth=auth,
                                         headers={"Accept": "application/json"}) as r:
                status, text = r.status, await r.text(errors="replace")
        except (TimeoutError, aiohttp.ClientError, ValueError) as e:
            raise RosterError(cfg.token_url, None,
                              _("cannot reach the token server ({error})").format(error=_why(e)),
                              _("Check the token URL and that the server is reachable from this machine;"
                                " the roster is read again at the next run.")) from e
        try:
            body = json.loads(text)
        except ValueError:
            body = None
        if status >= 400:
            error = body.get("error") if isinstance(body, dict) else None
            if error in ("invalid_client", "unauthorized_client") or (status == 401 and not error):
                raise RosterError(cfg.token_url, None,
                                  _("the token server refused the client credentials (HTTP {status}{error})").format(
                                      status=status, error=f", {error}" if error else ""),
                                  _("Check the client id and the client secret: they must be the OAuth 2 client"
                                    " credentials the OneRoster provider issued for this school."))
            if error == "invalid_scope":
                raise RosterError(cfg.token_url, None,
                                  _("the token server refused the scope {scope}").format(scope=cfg.scope),
                                  _("Ask the provider which scope to ask for (OneRoster's read scope is {default}),"
                                    " or ask for none.").format(default=SCOPES[cfg.version]))
            raise RosterError(cfg.token_url, None,
                              _("the token server answered HTTP {status}{error}").format(
                                  status=status, error=f" ({error})" if error else ""),
                              _("Check the token URL: it must be the provider's OAuth 2 token endpoint."))
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise RosterError(cfg.token_url, None, _("the answer is not an OAuth 2 token (JSON with access_token)"),
                              _("Check the token URL: it must be the provider's OAuth 2 token endpoint."))
        expires_in = body.get("expires_in")
        lifetime = float(expires_in) if isinstance(expires_in, int | float) and expires_in > 0 else 3600.0
        self._token = token
        self._token_expires = time.monotonic() + max(lifetime - TOKEN_MARGIN_S, lifetime / 2)
        return token


@dataclass
class _Response:
    """What paging needs of an answer: the status, ``X-Total-Count``, the ``Link`` header's (rel, URL)s."""

    status: int
    total_count: str
    links: list[tuple[str, str]]

    @property
    def has_links(self) -> bool:
        return bool(self.links)


def _why(e: BaseException) -> str:
    return str(e) or type(e).__name__


def _version_title(version: str) -> str:
    return {ONEROSTER_11: "OneRoster 1.1", ONEROSTER_12: "OneRoster 1.2"}[version]


def _check_status(status: int, url: str, cfg: RestConfig) -> None:
    """Raise :class:`RosterError` for an HTTP error answer of the OneRoster server."""
    if status < 400:
        return
    scope_hint = _("Check that the client may read the roster (the read scope is {scope}) and that the token URL"
                   " belongs to the same provider as the base URL.").format(scope=SCOPES[cfg.version])
    if status == 401:
        raise RosterError(url, None, _("the OneRoster server refused the access token, even a fresh one (HTTP 401)"),
                          scope_hint)
    if status == 403:
        raise RosterError(url, None, _("the OneRoster server does not let this client read the roster (HTTP 403)"),
                          scope_hint)
    if status == 404:
        raise RosterError(url, None, _("there is no OneRoster service at this address (HTTP 404)"),
                          _("Check the base URL and the OneRoster version: the {version} Rostering service"
                            " answers at {path}.").format(version=_version_title(cfg.version),
                                                          path=PATHS[cfg.version]))
    raise RosterError(url, None, _("the OneRoster server answered HTTP {status}").format(status=status),
                      _("Try again later; if it goes on, ask the provider."))


def _next_link(response: _Response) -> str | None:
    """The ``Link`` header's ``rel="next"`` URL (resolved against the request), if any."""
    return next((url for rel, url in response.links if "next" in rel.split()), None)


def _total_count(response: _Response) -> int | None:
    value = response.total_count.strip()
    return int(value) if value.isdigit() else None


def _origin(url: str) -> str:
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme.lower())
    return f"{parts.scheme.lower()}://{(parts.hostname or '').lower()}:{port}"


# -- JSON records as the CSV binding's rows ------------------------------------------------

# The CSV columns each collection's reader (:mod:`.oneroster`) reads, and how to get them from a record.
_FIELDS: dict[str, tuple[str, ...]] = {
    "classes": ("sourcedId", "status", "title", "grades"),
    "users": ("sourcedId", "status", "givenName", "familyName", "middleName", "role", "agents", "grades"),
    "enrollments": ("sourcedId", "status", "user", "class", "role", "primary"),
}
# JSON field -> the CSV column it becomes (when the names differ).
_COLUMNS = {"agents": "agentSourcedIds", "user": "userSourcedId", "class": "classSourcedId"}


def _text(value: Any) -> str:
    """A JSON value as the CSV binding writes it: lists comma-joined, GUIDRefs as their sourcedId."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return _text(value.get("sourcedId"))
    if isinstance(value, list | tuple):
        return ",".join(t for t in (_text(v) for v in value) if t)
    return str(value).strip()


def _table(name: str, records: list[Any], version: str) -> Table:
    """``records`` of collection ``name`` as a :class:`Table` whose rows the CSV reader's functions take."""
    columns = [_COLUMNS.get(f, f) for f in _FIELDS[name]]
    table = Table(name, columns)
    for line, record in enumerate(records, 1):
        if not isinstance(record, Mapping):
            table.problems.append((line, _("the record is not a JSON object")))
            continue
        values = {_COLUMNS.get(f, f).lower(): _text(record.get(f)) for f in _FIELDS[name]}
        if name == "users" and version == ONEROSTER_12:
            values["role"] = ""  # 1.2: the roles are in "roles"
        table.rows.append(Row(line, values))
    return table


def _roles_table(records: list[Any], users: Table) -> Table:
    """OneRoster 1.2: the ``roles`` of the user records the builder kept, as roles.csv's rows on the user's line.

    A user record left out (tobedeleted, a duplicate, an empty required field) has its
    own problem; its roles are not read.
    """
    kept: dict[str, int] = {}
    for row in users.rows:
        source_id = row.get("sourcedId")
        if source_id and source_id not in kept and row.get("givenName") and row.get("familyName") \
                and row.get("status").lower() in ("", "active"):
            kept[source_id] = row.line
    table = Table(users.name, ["userSourcedId", "roleType", "role"])
    for line, record in enumerate(records, 1):
        if not isinstance(record, Mapping):
            continue
        source_id = _text(record.get("sourcedId"))
        if kept.get(source_id) != line:
            continue
        roles = record.get("roles")
        if not isinstance(roles, list):
            continue
        for role in roles:
            if not isinstance(role, Mapping):
                table.problems.append((line, _("a role of the record is not a JSON object")))
                continue
            table.rows.append(Row(line, {"usersourcedid": source_id, "roletype": _text(role.get("roleType")),
                                         "role": _text(role.get("role")), "status": "", "sourcedid": ""}))
    return table
