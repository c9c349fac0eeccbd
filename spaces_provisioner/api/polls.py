"""``/api/v1/rooms/{room}/polls/{event}/results``: a poll's results for its author and the school's
administration (their own Matrix access token), or the operator.

- ``GET /rooms/{room}/polls/{event}/results`` (``?format=json|csv``, default json):
  ``ops.polls.Polls.results``; CSV: ``ops.polls.results_csv`` (UTF-8 with BOM, ``;``)
"""

from __future__ import annotations

from aiohttp import web

from policies.i18n import _

from spaces_provisioner.api.auth import actor
from spaces_provisioner.api.body import reply
from spaces_provisioner.api.keys import OPS
from spaces_provisioner.errors import Errcode, ProvisioningError
from spaces_provisioner.ops.polls import results_csv

routes = web.RouteTableDef()


@routes.get("/api/v1/rooms/{room}/polls/{event}/results")
async def poll_results(request: web.Request) -> web.Response:
    who = await actor(request)
    fmt = request.query.get("format", "json")
    if fmt not in ("json", "csv"):
        raise ProvisioningError(400, Errcode.INVALID_PARAM, _("'format' must be json or csv"))
    results = await request.app[OPS].polls.results(request.match_info["room"], request.match_info["event"],
                                                   who.person)
    if fmt == "csv":
        return web.Response(body=results_csv(results), content_type="text/csv", charset="utf-8", headers={
            "Content-Disposition": 'attachment; filename="poll-results.csv"'})
    return reply(results)
