"""Room reports (MSC4151, ``POST /_matrix/client/v3/rooms/{roomId}/report``) for the provisioning service.

Synapse 1.163 stores a room report in its ``room_reports`` table (``ReportsHandler.report_room`` →
``RoomStore.add_room_report``) but, unlike event and user reports, offers no Admin API to read them.
The module serves them to the Parta bot alone, oldest first after a given id:

``GET /_synapse/client/parta/room_reports?after=ID`` → ``{"room_reports": [{"id", "received_ts", "room_id",
"user_id", "reason"}]}`` (at most 100; 403 for anyone but the bot).

The service polls it next to the Admin API's ``/event_reports`` and ``/user_reports``
(``spaces_provisioner/ops/moderation.py``) and delivers each report to the reporter's school. The
table's columns are Synapse's schema delta ``main/delta/85/06_add_room_reports.sql`` (1.163.2); a
Synapse whose table differs makes the request fail loudly (500), never a report reach a wrong school.
"""

from __future__ import annotations

from typing import Any

from synapse.api.errors import Codes, SynapseError
from synapse.http.server import DirectServeJsonResource
from synapse.module_api import ModuleApi

#: How many reports one answer holds at most.
PAGE = 100


class RoomReportsResource(DirectServeJsonResource):
    """``GET /_synapse/client/parta/room_reports?after=ID`` (the bot only): room reports with a larger id."""

    def __init__(self, api: ModuleApi, bot: str):
        super().__init__()
        self.api = api
        self.bot = bot

    async def _async_render_GET(self, request: Any) -> tuple[int, dict]:
        requester = await self.api.get_user_by_req(request)
        if requester.user.to_string() != self.bot:
            raise SynapseError(403, "Only the Parta bot may read room reports", Codes.FORBIDDEN)
        try:
            after = int(request.args.get(b"after", [b"0"])[0].decode())
        except ValueError:
            raise SynapseError(400, "after must be a report id", Codes.INVALID_PARAM) from None

        def read(txn: Any) -> list[tuple]:
            txn.execute("SELECT id, received_ts, room_id, user_id, reason FROM room_reports WHERE id > ? "
                        "ORDER BY id LIMIT ?", (after, PAGE))
            return list(txn.fetchall())

        rows = await self.api.run_db_interaction("parta_room_reports", read)
        return 200, {"room_reports": [{"id": i, "received_ts": ts, "room_id": room, "user_id": user, "reason": reason}
                                      for i, ts, room, user, reason in rows]}
