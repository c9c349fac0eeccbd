"""The world of the room-scoped media tests (``test_media_access.py``, ``test_media_attacks.py``):
school A built from Parta's generated two-class school (``tests.schools.attack_cast``: the class
teacher of 5А, three pupils of 5А, a pupil of 1А), school B (demo roster: its teacher b-usr-001 and
its pupil b-usr-002; end-to-end encryption allowed in chats people create), an account in no
organization, and the Parta bot; real uploads, downloads and thumbnails over the Client-Server API
(``synapse_module.media_access``)."""

from __future__ import annotations

import io
import itertools
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from mautrix.api import Method
from PIL import Image

from policies.templates import RoomRef, default_templates

from ..helpers import SCHOOL_B_APPLICATION, SCHOOL_B_ROSTER, User, eventually, q
from ..schools import attack_cast, write_attack_roster

T = default_templates()
V = "/_matrix/client/v3"
MEDIA = "/_matrix/client/v1/media"
_n = itertools.count(1)


@dataclass
class World:
    server: str
    class_chat: str
    teacher: User        # confirmed class teacher of 5А
    classmate: User      # pupil of 5А
    leaver: User         # pupil of 5А who leaves the class chat in an attack test
    student: User        # pupil of 5А
    other_class: User    # pupil of 1А, same school
    student_b: User      # pupil of school B
    teacher_b: User      # confirmed teacher of school B (creates chats)
    outsider: User       # no organization
    bot: User
    files: dict          # the teacher's posted files: sheet, sheet_bytes, photo, photo_bytes


async def make_world(hs, roster_folder: Path) -> World:
    """Provision both schools, sign everyone in, wait for 5А's pupils to be in the class chat, and
    post the teacher's worksheet (text) and photo (PNG, 800×800) there."""
    c = attack_cast()
    a = await hs.new_school(roster=write_attack_roster(roster_folder))
    # school B lets people encrypt the chats they create (encrypted attachments)
    b = await hs.new_school(roster=SCHOOL_B_ROSTER, application=SCHOOL_B_APPLICATION,
                            settings={"encryption_in_chats": True})
    org = a["org"]
    class_chat = await hs.bot.resolve_alias(
        f"#{T.alias_localpart(RoomRef(org, 'class_chat', c.class_id))}:{hs.server_name}")
    w = World(
        server=hs.server_name, class_chat=class_chat,
        teacher=await hs.person(org, c.teacher, confirmed=True), classmate=await hs.person(org, c.classmate),
        leaver=await hs.person(org, c.student3), student=await hs.person(org, c.student),
        other_class=await hs.person(org, c.other_class), student_b=await hs.person(b["org"], "b-usr-002"),
        teacher_b=await hs.person(b["org"], "b-usr-001", confirmed=True), outsider=await hs.outsider(),
        bot=User(hs.url, hs.settings.bot_user_id, hs.settings.bot_access_token), files={},
    )
    for u in (w.teacher, w.classmate, w.leaver, w.student):
        async def joined(u=u):
            return class_chat in await u.joined_rooms()
        assert await eventually(joined), f"{u.user_id} is not in the class chat"
    sheet = "Задание на дом: § 12, упражнения 1–5.\n".encode()
    photo = png()
    sheet_uri = await upload(w.teacher, sheet, "text/plain", "zadanie.txt")
    photo_uri = await upload(w.teacher, photo, "image/png", "doska.png")
    assert sheet_uri.startswith(f"mxc://{w.server}/")
    code, body = await post_file(w.teacher, class_chat, sheet_uri, "zadanie.txt")
    assert code == 200, body
    code, body = await post_file(w.teacher, class_chat, photo_uri, "doska.png", "m.image",
                                 info={"mimetype": "image/png", "w": 800, "h": 800})
    assert code == 200, body
    w.files.update(sheet=sheet_uri, sheet_bytes=sheet, photo=photo_uri, photo_bytes=photo)
    return w


def png(size: int = 800, colour: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    """A PNG image large enough for Synapse to make its 320×240 thumbnail."""
    buf = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(buf, format="PNG")
    return buf.getvalue()


async def upload(u: User, data: bytes, content_type: str, name: str) -> str:
    """``POST /_matrix/media/v3/upload``; the ``mxc://`` URI."""
    r = await u.api.request(Method.POST, "/_matrix/media/v3/upload", data,
                            headers={"Content-Type": content_type}, query_params={"filename": name})
    return r["content_uri"]


async def fetch(u: User | None, path: str, query: dict | None = None, base: str = "") -> tuple[int, bytes, dict]:
    """A GET of ``path`` as ``u`` (None: no token, on ``base``): ``(status, body, JSON body or {})``."""
    headers = {"Authorization": f"Bearer {u.token}"} if u is not None else {}
    base = u.base_url if u is not None else base
    async with aiohttp.ClientSession() as s, s.get(base + path, params=query, headers=headers) as r:
        body = await r.read()
        try:
            data = await r.json(content_type=None)
        except ValueError:
            data = {}
        return r.status, body, data if isinstance(data, dict) else {}


def mxc_path(uri: str) -> str:
    """``server/media_id`` of an ``mxc://`` URI, quoted for a path."""
    server, media_id = uri.removeprefix("mxc://").split("/", 1)
    return f"{q(server)}/{q(media_id)}"


async def download(u: User | None, uri: str) -> tuple[int, bytes, dict]:
    """``GET /_matrix/client/v1/media/download/...`` (authenticated media)."""
    return await fetch(u, f"{MEDIA}/download/{mxc_path(uri)}")


async def thumbnail(u: User | None, uri: str) -> tuple[int, bytes, dict]:
    """``GET /_matrix/client/v1/media/thumbnail/...`` at 320×240, scaled."""
    return await fetch(u, f"{MEDIA}/thumbnail/{mxc_path(uri)}", {"width": "320", "height": "240", "method": "scale"})


def refused(resp: tuple[int, bytes, dict], reason: str = "media_not_shared_with_you") -> dict:
    """Assert a refusal: 403 ``M_FORBIDDEN``, Parta's reason and a message in both languages."""
    status, _body, data = resp
    assert status == 403, (status, data)
    assert data.get("errcode") == "M_FORBIDDEN", data
    assert data.get("org.parta.reason") == reason, data
    assert data.get("error") and data.get("org.parta.messages", {}).get("en"), data
    return data


def served(resp: tuple[int, bytes, dict], data: bytes | None = None) -> bytes:
    """Assert a 200 (with exactly ``data`` when given); the body."""
    status, body, json_body = resp
    assert status == 200, (status, json_body)
    if data is not None:
        assert body == data
    return body


async def post_file(u: User, room_id: str, uri: str, name: str, msgtype: str = "m.file",
                    **extra) -> tuple[int, dict]:
    """Send an ``m.room.message`` carrying ``uri`` (``url``); ``(status, JSON)``."""
    return await u.attempt("PUT", f"{V}/rooms/{q(room_id)}/send/m.room.message/m{next(_n)}",
                           {"msgtype": msgtype, "body": name, "url": uri, **extra})


def next_txn() -> int:
    """A fresh transaction number."""
    return next(_n)
