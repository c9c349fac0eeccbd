"""The school's settings page saves (issue 14): ``POST /console/org/{org}/settings``.

The page (``school_records.settings``, ``templates/school_settings.html``) shows each setting in a
field holding its current value as JSON; the fields whose value the person changed are saved through
the API's operation (``ops.org_settings_change.change_settings``: checked, stored, audited, the rooms
reconciled), with the API's rule (``require_org_admin``). A refusal comes back on the page as the
API's message and its details (``setting: fix``) in the person's language; nothing is stored then.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from policies.i18n import _
from policies.org_settings_change import CHANGEABLE

from spaces_provisioner.api.keys import OPS
from spaces_provisioner.console.auth import Viewer
from spaces_provisioner.console.pages import form, page
from spaces_provisioner.console.render import api_error, redirect
from spaces_provisioner.ops.org_settings_change import change_settings, settings_view

routes = web.RouteTableDef()


def _read(text: str) -> Any:
    """A field's text as a value: JSON/YAML (``true``, ``12``, ``null``, ``[1, 2]``), else the text."""
    try:
        return YAML(typ="safe").load(text) if text.strip() else None
    except YAMLError:
        return text


@routes.post("/console/org/{org}/settings")
@page()
async def save_settings(request: web.Request, v: Viewer) -> web.Response:
    org = request.match_info["org"]
    v.require_org_admin(org)
    fields = await form(request)
    ops = request.app[OPS]
    current = {s["key"]: s["value"] for s in settings_view(ops.ctx, org)["settings"]}
    changes = {k: _read(fields[k]) for k in CHANGEABLE if k in fields and _read(fields[k]) != current.get(k)}
    back = f"/console/org/{org}/settings"
    if not changes:
        redirect(request, back, ok=_("Nothing to save: no setting was changed"))
    try:
        await change_settings(ops.ctx, ops.orgs, org, changes, v.actor.name)
    except Exception as e:
        err = api_error(e)
        if err is None:
            raise
        redirect(request, back, error=" ".join([err.message, *err.details]))
    redirect(request, back, ok=_("Saved: {names}").format(names=", ".join(sorted(changes))))
