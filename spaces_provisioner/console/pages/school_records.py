"""A school's moderation reports, audit log and settings (issue 14, scope 3).

- ``GET /console/org/{org}/reports``: the reports delivered to the school's moderation room, newest
  first (``ops.moderation.reports_of``, as ``GET /api/v1/organizations/{org}/reports``).
- ``POST /console/org/{org}/reports/act`` (``report``, ``action`` = ``redact``/``kick``/``ban``, ``reason``): act on
  a report (``ops.moderation.act``, as ``POST /api/v1/organizations/{org}/moderation``); removing a person
  from the school is done on the people page, after its page of consequences.
- ``GET /console/org/{org}/audit`` (``?actor=&action=&since=&until=&before=``): the audit log, paged
  by 50, newest first (``ops.moderation.audit_entries``, as ``GET /api/v1/organizations/{org}/audit``;
  the same query parameters, read by the API's own helpers). The filter form is GET (it changes
  nothing); an ``actor`` filter is a user id the administrator typed, as in the API.
- ``GET /console/org/{org}/settings``: the settings the school runs with, each with its default
  (``policies/data/org_settings.yaml``) and whether the school's application set it.

Rights are the ops' own (``policies.moderation``: may_moderate, may_read_audit) and the API's
``require_org_admin`` for the settings.
"""

from __future__ import annotations

import json
from urllib.parse import urlencode

from aiohttp import web

from policies.i18n import N_, _

from spaces_provisioner.api.keys import OPS
from spaces_provisioner.api.moderation import _int, _query, _time
from spaces_provisioner.console.auth import Viewer
from spaces_provisioner.console.pages import form, page
from spaces_provisioner.console.render import redirect, render
from spaces_provisioner.errors import bad_json
from spaces_provisioner.ops.school_view import settings_of

routes = web.RouteTableDef()
PAGE = 50
#: What the reports page offers to do about a report (``remove`` is the people page's, with its consequences).
REPORT_ACTIONS = {"redact": N_("Remove the message"), "kick": N_("Take the person out of the room"),
                  "ban": N_("Ban the person from the room")}

#: What each shown setting means, for the settings page (English msgids).
SETTING_LABELS = {
    "students_may_message_classmates": N_("Pupils may write to classmates (direct and group chats)"),
    "teachers_may_post_announcements": N_("Confirmed teachers may post in the school's announcements"),
    "office_hours": N_("Teachers' office hours (quiet hours outside them)"),
    "quiet_hours_silence": N_("Whose messages wait for office hours"),
    "timezone": N_("The school's time zone"),
    "school_year_end": N_("The school year ends on (month-day)"),
    "retention_archived_months": N_("Archived class rooms are kept (months after the year ends)"),
    "retention_direct_chats_months": N_("People's own chats keep each message (months)"),
    "max_guardians_per_child": N_("Parents linked to one pupil at most"),
    "parent_email_grades": N_("Grades whose pupils register with a parent's e-mail code"),
}


def _show(value: object) -> str:
    """A setting's value in words: yes/no, "not set", or its JSON."""
    if value is True:
        return _("yes")
    if value is False:
        return _("no")
    if value is None:
        return _("not set")
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


@routes.get("/console/org/{org}/reports")
@page()
async def reports(request: web.Request, v: Viewer) -> web.Response:
    org = request.match_info["org"]
    ops = request.app[OPS]
    rows = ops.moderation.reports_of(org, v.actor.person, limit=100)["reports"]
    name = ops.orgs.organization(org)["name"]
    return render(request, "school_reports.html", title=_("Reports: {school}").format(school=name), org=org,
                  admin=v.actor.is_org_admin(org), reports=rows,
                  actions=[(k, _(label)) for k, label in REPORT_ACTIONS.items()])


@routes.post("/console/org/{org}/reports/act")
@page()
async def act(request: web.Request, v: Viewer) -> web.Response:
    org = request.match_info["org"]
    fields = await form(request)
    action = fields.get("action", "")
    if action not in REPORT_ACTIONS:
        raise bad_json(_("'action' must be one of: {actions}").format(actions=", ".join(REPORT_ACTIONS)))
    await request.app[OPS].moderation.act(org, action, v.actor.name, v.actor.person,
                                          report=fields.get("report") or None, reason=fields.get("reason") or None)
    return redirect(request, f"/console/org/{org}/reports", ok=_("Done: {what}").format(what=_(REPORT_ACTIONS[action])))


@routes.get("/console/org/{org}/audit")
@page()
async def audit(request: web.Request, v: Viewer) -> web.Response:
    org = request.match_info["org"]
    ops = request.app[OPS]
    filters = {k: request.query.get(k, "") for k in ("actor", "action", "since", "until")}
    got = ops.moderation.audit_entries(
        org, v.actor.person, actor=_query(request, "actor"), action=_query(request, "action"),
        since=_time(request, "since"), until=_time(request, "until"), before=_int(request, "before", None),
        limit=PAGE)
    for e in got["entries"]:
        e["detail_text"] = json.dumps(e["detail"], ensure_ascii=False, sort_keys=True)
    more = None
    if got["next"] is not None:
        more = f"/console/org/{org}/audit?" + urlencode({**{k: x for k, x in filters.items() if x},
                                                         "before": got["next"]})
    name = ops.orgs.organization(org)["name"]
    return render(request, "school_audit.html", title=_("Audit log: {school}").format(school=name), org=org,
                  admin=v.actor.is_org_admin(org), entries=got["entries"], filters=filters, more=more)


@routes.get("/console/org/{org}/settings")
@page()
async def settings(request: web.Request, v: Viewer) -> web.Response:
    org = request.match_info["org"]
    v.require_org_admin(org)
    ops = request.app[OPS]
    rows = [{**s, "label": _(SETTING_LABELS[s["key"]]), "value_text": _show(s["value"]),
             "default_text": _show(s["default"])} for s in settings_of(ops.ctx, org)]
    name = ops.orgs.organization(org)["name"]
    return render(request, "school_settings.html", title=_("Settings: {school}").format(school=name), org=org,
                  admin=True, settings=rows)
