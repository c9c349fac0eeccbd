"""``POST /api/v1/registrations/nudge`` (``{"user_id"}``): the homeserver's module says an account
registered with a token.

Only the module calls it, with the nudge secret (``nudge_secret`` in ``parta.yaml`` and in the
module's config); even so the service reads the record back from the homeserver
(``ops.registrations``), so a forged nudge places nobody, and the answer (202 ``{}``) tells the
caller nothing of the account. An installation made before the secret existed accepts
nudges without it."""

from __future__ import annotations

import hmac

from aiohttp import web

from policies.i18n import _
from policies.links import USER_ID

from spaces_provisioner.api.body import read_json, reply
from spaces_provisioner.api.keys import OPS, SETTINGS
from spaces_provisioner.errors import Errcode, ProvisioningError, bad_json

routes = web.RouteTableDef()


@routes.post("/api/v1/registrations/nudge")
async def nudge(request: web.Request) -> web.Response:
    secret = request.app[SETTINGS].nudge_secret
    if secret is not None:
        header = request.headers.get("Authorization", "")
        if not hmac.compare_digest(header.encode(), f"Bearer {secret}".encode()):
            raise ProvisioningError(401, Errcode.UNKNOWN_TOKEN, _("Only the homeserver's Parta module sends "
                                                                  "registration notices"))
    user_id = (await read_json(request)).get("user_id")
    if not isinstance(user_id, str) or not USER_ID.fullmatch(user_id):
        raise bad_json(_("'user_id' must be a Matrix user id"))
    await request.app[OPS].registrations.place_registration(user_id)
    return reply({}, status=202)
