"""``BotClient.join_as`` against a small homeserver written here (the adapter's contract; the
integration suite proves placement against a real Synapse): the user's own joins in order, the
bot's invitation first where asked, the Admin API's join only when the homeserver rate-limits the
user, refusals returned per room, the session logged out.

Requests follow the Matrix Client-Server API (``/join``, ``/invite``, ``/logout``) and Synapse's
Admin API (``/_synapse/admin/v1/users/{id}/login``, ``/_synapse/admin/v1/join/{room}``).
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.test_utils import TestServer

from spaces_provisioner.homeserver.bot import BotClient

BOT, USER = "@parta:school.test", "@pupil:school.test"


class Homeserver:
    """Records every request as ``(who, what, room)``; answers joins by the room's name."""

    def __init__(self) -> None:
        self.log: list[tuple[str, str, str]] = []
        app = web.Application()
        app.router.add_post("/_synapse/admin/v1/users/{user}/login", self.login)
        app.router.add_post("/_matrix/client/v3/rooms/{room}/invite", self.invite)
        app.router.add_post("/_matrix/client/v3/join/{room}", self.join)
        app.router.add_post("/_synapse/admin/v1/join/{room}", self.admin_join)
        app.router.add_post("/_matrix/client/v3/logout", self.logout)
        self.server = TestServer(app)

    @staticmethod
    def who(request: web.Request) -> str:
        return "bot" if request.headers.get("Authorization") == "Bearer bot-token" else "user"

    async def login(self, request: web.Request) -> web.Response:
        self.log.append((self.who(request), "login", request.match_info["user"]))
        return web.json_response({"access_token": "user-token"})

    async def invite(self, request: web.Request) -> web.Response:
        self.log.append((self.who(request), "invite", request.match_info["room"]))
        return web.json_response({})

    async def join(self, request: web.Request) -> web.Response:
        room = request.match_info["room"]
        self.log.append((self.who(request), "join", room))
        if room.startswith("!limited"):
            return web.json_response({"errcode": "M_LIMIT_EXCEEDED", "error": "Too many requests",
                                      "retry_after_ms": 60000}, status=429)
        if room.startswith("!banned"):
            return web.json_response({"errcode": "M_FORBIDDEN", "error": "You are banned from this room"},
                                     status=403)
        return web.json_response({"room_id": room})

    async def admin_join(self, request: web.Request) -> web.Response:
        self.log.append((self.who(request), "admin-join", request.match_info["room"]))
        return web.json_response({"room_id": request.match_info["room"]})

    async def logout(self, request: web.Request) -> web.Response:
        self.log.append((self.who(request), "logout", ""))
        return web.json_response({})


async def test_joins_in_order_invites_first_falls_back_on_rate_limits_and_logs_out():
    hs = Homeserver()
    await hs.server.start_server()
    bot = BotClient(str(hs.server.make_url("")), "bot-token", BOT)
    try:
        failed = await bot.join_as(USER, [("!space:s", True), ("!limited:s", False), ("!banned:s", False),
                                          ("!chat:s", False)])
    finally:
        await bot.close()
        await hs.server.close()
    assert set(failed) == {"!banned:s"}
    assert failed["!banned:s"].errcode == "M_FORBIDDEN"
    assert hs.log == [
        ("bot", "login", USER),
        ("bot", "invite", "!space:s"), ("user", "join", "!space:s"),
        ("user", "join", "!limited:s"), ("bot", "admin-join", "!limited:s"),  # at once, not after 60 s
        ("user", "join", "!banned:s"),  # refused: no Admin API join past a ban
        ("user", "join", "!chat:s"),
        ("user", "logout", ""),
    ]
