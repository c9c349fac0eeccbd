"""A school's roster import in the console (issue 14, scope 3): upload, preview, apply, progress.

- ``GET  /console/org/{org}/roster``: the upload form (a roster ``.zip``: OneRoster or SDS CSV files,
  or a class list file with its format chosen).
- ``POST /console/org/{org}/roster/preview`` (multipart ``file``, ``format``): the roster is read
  (:func:`spaces_provisioner.roster.load_roster`) and imported as a dry run
  (``ops.rosters.import_roster(dry_run=True)``, the same diff as ``parta roster import --dry-run``);
  the preview page shows its counts, its lines and the skipped rows, and a button to apply.
- ``POST /console/org/{org}/roster/apply`` (``job``, ``confirm_mass_removal``): the import starts
  in the background; the browser goes to the status page.
- ``GET  /console/org/{org}/roster/{job}``: the import's state; while it runs the page reloads itself
  every 2 seconds (the HTTP ``Refresh`` header: no JavaScript needed), then shows the summary.

An import job lives in this process's memory for an hour, bound to the session that made it (another
session, even the same person's, gets 404): the job id in the URL is random and names nobody.
The rights are the API's: the school's administration (``require_org_admin``); the ops refuse a
roster that changes people the signed-in person may not change (403, row 90: the head touches no
administrator, nobody their own record; the preview already shows it) and one that would remove too
many people unless the preview's box is ticked (409 ``PARTA_MASS_REMOVAL``, shown on the status page).
"""

from __future__ import annotations

import asyncio
import secrets
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from policies.capabilities import Account
from policies.i18n import _, current_language, set_language
from policies.labels import ROSTER_KINDS
from policies.model import Roster

from spaces_provisioner.api.keys import OPS
from spaces_provisioner.console.auth import Viewer
from spaces_provisioner.console.pages import form, page
from spaces_provisioner.console.render import api_error, redirect, render, session_of
from spaces_provisioner.errors import Errcode, ProvisioningError
from spaces_provisioner.roster import CLASS_LIST, FORMATS, load_roster

routes = web.RouteTableDef()

#: How long (seconds) a job is kept after it was made; jobs kept at most (the oldest go first).
JOB_TTL = 3600
MAX_JOBS = 200
#: The status page reloads itself this often (seconds) while the import runs.
REFRESH_S = 2



@dataclass
class RosterJob:
    """One upload: its roster, the preview, then the import's state.

    ``state``: ``previewed`` → ``applying`` → ``done`` | ``failed``; ``result`` the ops' answer;
    ``error`` the refusal (a :class:`ProvisioningError`) when failed.
    """

    id: str
    org: str
    session_id: str
    roster: Roster
    preview: dict[str, Any]
    made_at: float = field(default_factory=time.monotonic)
    state: str = "previewed"
    started_at: float = 0.0
    result: dict[str, Any] | None = None
    error: ProvisioningError | None = None
    task: asyncio.Task | None = None


#: This process's jobs by id (like the console's sessions, a restart forgets them).
JOBS: dict[str, RosterJob] = {}


def _forget_old() -> None:
    now = time.monotonic()
    for jid in [j for j, job in JOBS.items() if now - job.made_at > JOB_TTL and job.state != "applying"]:
        JOBS.pop(jid, None)
    while len(JOBS) > MAX_JOBS:
        JOBS.pop(next(iter(JOBS)))


def _job(request: web.Request, org: str, job_id: str) -> RosterJob:
    """This session's job, or 404 (an unknown, expired or someone else's job look the same)."""
    job = JOBS.get(job_id)
    if job is None or job.org != org or job.session_id != session_of(request).id:
        raise ProvisioningError(404, Errcode.NOT_FOUND, _(
            "There is no such roster import (it ended more than an hour ago or was started in another "
            "session); upload the roster again"))
    return job


def _summary(result: dict[str, Any]) -> list[tuple[str, int]]:
    rows = [(_(ROSTER_KINDS.get(k, k)), n) for k, n in (result.get("summary") or {}).items() if n]
    if result.get("moves"):
        rows.append((_("students moved to another class"), result["moves"]))
    return rows


@routes.get("/console/org/{org}/roster")
@page()
async def upload_form(request: web.Request, v: Viewer) -> web.Response:
    org = request.match_info["org"]
    v.require_org_admin(org)
    name = request.app[OPS].orgs.organization(org)["name"]
    return render(request, "school_roster.html", title=_("Roster import: {school}").format(school=name), org=org,
                  admin=True, formats=FORMATS + (CLASS_LIST,), error=None)


@routes.post("/console/org/{org}/roster/preview")
@page()
async def preview(request: web.Request, v: Viewer) -> web.Response:
    org = request.match_info["org"]
    v.require_org_admin(org)
    ops = request.app[OPS]
    name = ops.orgs.organization(org)["name"]
    fields = await form(request)
    upload = (await request.post()).get("file")
    fmt = fields.get("format") or None
    try:
        if not isinstance(upload, web.FileField) or not upload.filename:
            raise ProvisioningError(400, Errcode.INVALID_ROSTER, _(
                "The request has no roster; send the roster's CSV files as one zip"))
        if fmt is not None and fmt not in FORMATS + (CLASS_LIST,):
            raise ProvisioningError(400, Errcode.INVALID_ROSTER, _(
                "Unknown roster format {format}; use one of: {formats}").format(
                format=fmt, formats=", ".join(FORMATS + (CLASS_LIST,))))
        suffix = Path(upload.filename).suffix.lower()[:8] or ".zip"
        data = upload.file.read()
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"roster{suffix}"
            path.write_bytes(data)
            roster = await asyncio.to_thread(load_roster, path, fmt)
        result = await ops.rosters.import_roster(org, roster, v.actor.name, dry_run=True, by=v.actor.person)
    except Exception as e:
        err = api_error(e)
        if err is None:
            raise
        return render(request, "school_roster.html", err.status, title=_("Roster import: {school}").format(
            school=name), org=org, admin=True, formats=FORMATS + (CLASS_LIST,), error=err)
    _forget_old()
    job = RosterJob(id=secrets.token_urlsafe(16), org=org, session_id=session_of(request).id, roster=roster,
                    preview=result)
    JOBS[job.id] = job
    return render(request, "school_roster_preview.html", title=_("Check the roster before importing"), org=org,
                  admin=True, job=job, result=result, rows=_summary(result), classes=len(roster.classes),
                  people=len(roster.people))


async def _run(ops: Any, job: RosterJob, actor: str, by: Account | None, confirm: bool, language: str) -> None:
    set_language(language)  # the refusal's text in the person's language
    try:
        job.result = await ops.rosters.import_roster(job.org, job.roster, actor, confirm_mass_removal=confirm,
                                                     by=by)
        job.state = "done"
    except Exception as e:  # noqa: BLE001 - every failure is shown on the status page
        job.error = api_error(e) or ProvisioningError(500, Errcode.UNKNOWN, _(
            "The import stopped on an unexpected error; see the service's log"))
        job.state = "failed"


@routes.post("/console/org/{org}/roster/apply")
@page()
async def apply(request: web.Request, v: Viewer) -> web.Response:
    org = request.match_info["org"]
    v.require_org_admin(org)
    fields = await form(request)
    job = _job(request, org, fields.get("job", ""))
    if job.state == "previewed":
        job.state, job.started_at = "applying", time.monotonic()
        job.task = asyncio.create_task(_run(request.app[OPS], job, v.actor.name, v.actor.person,
                                            fields.get("confirm_mass_removal") == "yes", current_language()))
    return redirect(request, f"/console/org/{org}/roster/{job.id}")


@routes.get("/console/org/{org}/roster/{job}")
@page()
async def status(request: web.Request, v: Viewer) -> web.Response:
    org = request.match_info["org"]
    v.require_org_admin(org)
    job = _job(request, org, request.match_info["job"])
    response = render(request, "school_roster_status.html", title=_("Roster import"), org=org, admin=True,
                      job=job, rows=_summary(job.result) if job.result else [],
                      elapsed=int(time.monotonic() - job.started_at) if job.started_at else 0, refresh=REFRESH_S)
    if job.state == "applying":
        response.headers["Refresh"] = str(REFRESH_S)
    return response
