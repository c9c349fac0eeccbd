"""Reading a request's JSON body: one reader for the whole API."""

from __future__ import annotations

import json

from aiohttp import web

from policies import names
from policies.i18n import _
from policies.model import FullName

from spaces_provisioner.errors import Errcode, ProvisioningError, bad_json


async def read_json(request: web.Request, *, required: bool = False) -> dict:
    """The request's JSON object (``{}`` for no body unless ``required``); 400 for anything else:
    not JSON (``M_NOT_JSON``), nested too deep, not an object, text that is not valid Unicode
    (``M_BAD_JSON``)."""
    if not request.can_read_body and not required:
        return {}
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError, RecursionError) as e:  # RecursionError: nested too deep
        raise ProvisioningError(400, Errcode.NOT_JSON, _("The request body is not JSON; send a JSON object")) from e
    if not isinstance(body, dict):
        raise bad_json(_("The request body must be a JSON object"))
    return require_utf8(body)


def require_utf8(body: dict) -> dict:
    """Refuse JSON whose strings are not Unicode text (lone surrogates from ``\\ud800`` escapes)."""
    try:
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as e:
        raise bad_json(_("The request body has text that is not valid Unicode")) from e
    return body


def reply(data: object, status: int = 200) -> web.Response:
    """A JSON answer, UTF-8 without ``\\u`` escapes (Russian stays readable in a terminal)."""
    return web.json_response(data, status=status, dumps=_dumps)


def _dumps(data: object) -> str:
    return json.dumps(data, ensure_ascii=False)


def optional_bool(body: dict, key: str) -> bool | None:
    """``body[key]`` when it is true or false, None when absent; 400 ``M_BAD_JSON`` otherwise."""
    value = body.get(key)
    if value is not None and not isinstance(value, bool):
        raise bad_json(_("'{key}' must be true or false").format(key=key))
    return value


def read_full_name(body: dict, badge: str | None = None) -> FullName:
    """``family_name``, ``given_name`` (non-empty text) and an optional ``middle_name`` of ``body``,
    cleaned by ``policies.names`` (``badge``: also refuse imitations of the confirmed teacher's
    badge). Raises 400 ``M_BAD_JSON``, or ``names.NameRefused`` (answered as 400 with its reason)."""
    parts = [body.get(k) or "" for k in ("family_name", "given_name", "middle_name")]
    if not all(isinstance(p, str) for p in parts) or not parts[0].strip() or not parts[1].strip():
        raise bad_json(_("Give 'family_name' and 'given_name' as non-empty text"))
    cleaned = [names.clean_name_part(p) if p.strip() else "" for p in parts]
    if badge is not None:
        for part in cleaned:
            names.check_not_badge(part, badge)
    return FullName(*cleaned)
