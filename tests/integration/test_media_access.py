"""Issue 11: files stay inside the school. A file posted in a room is downloaded (and its thumbnails
seen) by the uploader and by people joined to a room it was posted in, and by nobody else: real
uploads and downloads by real clients against the running Synapse with Parta
(``synapse_module.media_access``, ``policies.media_access``).

Each attack is a real request by someone who holds the file's ``mxc://`` URI (a pupil of school B,
an account in no organization, a pupil of another class, a pupil who left the class chat), refused
with its status, errcode and Parta's reason, next to the legitimate request that succeeds.
The last test measures what the check costs per download.

World (module fixture): school A built from Parta's generated two-class school
(``tests.schools.attack_cast``: the class teacher of 5А, three pupils of 5А, a pupil of 1А) and
school B (demo roster: its pupil b-usr-002), plus an account in no organization.
"""

from __future__ import annotations

import io
import itertools
import statistics
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest
from mautrix.api import Method
from PIL import Image

from policies.templates import RoomRef, default_templates

from ..helpers import SCHOOL_B_APPLICATION, SCHOOL_B_ROSTER, User, eventually, q
from ..schools import attack_cast, write_attack_roster

pytestmark = pytest.mark.synapse
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
    leaver: User         # pupil of 5А who will leave the class chat
    student: User        # pupil of 5А
    other_class: User    # pupil of 1А, same school
    student_b: User      # pupil of school B
    teacher_b: User      # confirmed teacher of school B (creates chats)
    outsider: User       # no organization
    bot: User


@pytest.fixture(scope="module")
async def w(hs, tmp_path_factory) -> AsyncIterator[World]:
    c = attack_cast()
    a = await hs.new_school(roster=write_attack_roster(tmp_path_factory.mktemp("media-roster")))
    b = await hs.new_school(roster=SCHOOL_B_ROSTER, application=SCHOOL_B_APPLICATION)
    org = a["org"]
    class_chat = await hs.bot.resolve_alias(
        f"#{T.alias_localpart(RoomRef(org, 'class_chat', c.class_id))}:{hs.server_name}")
    world = World(
        server=hs.server_name, class_chat=class_chat,
        teacher=await hs.person(org, c.teacher, confirmed=True), classmate=await hs.person(org, c.classmate),
        leaver=await hs.person(org, c.student3), student=await hs.person(org, c.student),
        other_class=await hs.person(org, c.other_class), student_b=await hs.person(b["org"], "b-usr-002"),
        teacher_b=await hs.person(b["org"], "b-usr-001", confirmed=True),
        outsider=await hs.outsider(),
        bot=User(hs.url, hs.settings.bot_user_id, hs.settings.bot_access_token),
    )
    for u in (world.teacher, world.classmate, world.leaver, world.student):
        async def joined(u=u):
            return class_chat in await u.joined_rooms()
        assert await eventually(joined), f"{u.user_id} is not in the class chat"
    yield world
    await world.bot.close()


def png(size: int = 800, colour: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    """A small PNG image (thumbnails are made of images)."""
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
    server, media_id = uri.removeprefix("mxc://").split("/", 1)
    return f"{q(server)}/{q(media_id)}"


async def download(u: User | None, uri: str) -> tuple[int, bytes, dict]:
    return await fetch(u, f"{MEDIA}/download/{mxc_path(uri)}")


async def thumbnail(u: User | None, uri: str) -> tuple[int, bytes, dict]:
    return await fetch(u, f"{MEDIA}/thumbnail/{mxc_path(uri)}", {"width": "320", "height": "240", "method": "scale"})


def refused(resp: tuple[int, bytes, dict], reason: str = "media_not_shared_with_you") -> dict:
    status, _body, data = resp
    assert status == 403, (status, data)
    assert data.get("errcode") == "M_FORBIDDEN", data
    assert data.get("org.parta.reason") == reason, data
    assert data.get("error") and data.get("org.parta.messages", {}).get("en"), data
    return data


def served(resp: tuple[int, bytes, dict], data: bytes | None = None) -> bytes:
    status, body, json_body = resp
    assert status == 200, (status, json_body)
    if data is not None:
        assert body == data
    return body


async def post_file(u: User, room_id: str, uri: str, name: str, msgtype: str = "m.file",
                    **extra) -> tuple[int, dict]:
    return await u.attempt("PUT", f"{V}/rooms/{q(room_id)}/send/m.room.message/m{next(_n)}",
                           {"msgtype": msgtype, "body": name, "url": uri, **extra})


@pytest.fixture(scope="module")
async def posted(w) -> dict:
    """The teacher's worksheet (text) and photo (PNG), posted in the class chat."""
    sheet = "Задание на дом: § 12, упражнения 1–5.\n".encode()
    photo = png()
    sheet_uri = await upload(w.teacher, sheet, "text/plain", "zadanie.txt")
    photo_uri = await upload(w.teacher, photo, "image/png", "doska.png")
    assert sheet_uri.startswith(f"mxc://{w.server}/")
    code, body = await post_file(w.teacher, w.class_chat, sheet_uri, "zadanie.txt")
    assert code == 200, body
    code, body = await post_file(w.teacher, w.class_chat, photo_uri, "doska.png", "m.image",
                                 info={"mimetype": "image/png", "w": 800, "h": 800})
    assert code == 200, body
    return {"sheet": sheet_uri, "sheet_bytes": sheet, "photo": photo_uri, "photo_bytes": photo}


# -- the legitimate path ------------------------------------------------------------------
async def test_a_classmate_downloads_the_teachers_file_and_a_thumbnail(w, posted):
    served(await download(w.classmate, posted["sheet"]), posted["sheet_bytes"])
    served(await download(w.classmate, posted["photo"]), posted["photo_bytes"])
    thumb = served(await thumbnail(w.classmate, posted["photo"]))
    assert thumb[:8] == b"\x89PNG\r\n\x1a\n" and thumb != posted["photo_bytes"]  # a made thumbnail
    served(await download(w.teacher, posted["sheet"]), posted["sheet_bytes"])  # the uploader
    served(await download(w.bot, posted["sheet"]), posted["sheet_bytes"])      # the school's bot


# -- attacks ------------------------------------------------------------------------------
async def test_a_pupil_of_another_school_downloads_a_class_file(w, posted):
    for who in (w.student_b, w.outsider):
        refused(await download(who, posted["sheet"]))
        refused(await download(who, posted["photo"]))
        refused(await thumbnail(who, posted["photo"]))
    served(await download(w.classmate, posted["sheet"]), posted["sheet_bytes"])


async def test_a_pupil_of_another_class_downloads_a_class_file(w, posted):
    body = refused(await download(w.other_class, posted["sheet"]))
    assert "members of the chats" in body["org.parta.messages"]["en"]
    refused(await thumbnail(w.other_class, posted["photo"]))
    served(await download(w.student, posted["sheet"]), posted["sheet_bytes"])


async def test_a_pupil_who_left_the_class_chat_downloads_its_file(w, posted):
    served(await download(w.leaver, posted["sheet"]), posted["sheet_bytes"])  # while a member
    await w.leaver.leave(w.class_chat)
    refused(await download(w.leaver, posted["sheet"]))  # at once: no stale cache
    refused(await thumbnail(w.leaver, posted["photo"]))
    served(await download(w.classmate, posted["sheet"]), posted["sheet_bytes"])


async def test_someone_downloads_an_upload_that_was_never_posted(w):
    draft = "Черновик контрольной".encode()
    uri = await upload(w.teacher, draft, "text/plain", "draft.txt")
    served(await download(w.teacher, uri), draft)
    for who in (w.classmate, w.student_b):
        refused(await download(who, uri))


async def test_a_held_uri_is_posted_into_an_own_room_to_open_it(w, posted):
    """Laundering: school B's teacher posts the URI in a room of their own (a room they created, a
    message, an image with the URI as its thumbnail, HTML) to become a member of a room it was
    "posted" in. Refused at sending; and the room that carries it (set as the room's avatar at
    creation, which no spam check sees) grants nothing."""
    own = await w.teacher_b.create_room({"preset": "private_chat", "name": "Мои файлы"})
    code, body = await post_file(w.teacher_b, own, posted["sheet"], "mine.txt")
    assert (code, body.get("org.parta.reason")) == (403, "media_not_yours_to_share"), body
    code, body = await w.teacher_b.attempt("PUT", f"{V}/rooms/{q(own)}/send/m.room.message/h{next(_n)}", {
        "msgtype": "m.text", "body": "см.", "format": "org.matrix.custom.html",
        "formatted_body": f'<img src="{posted["photo"]}">'})
    assert (code, body.get("org.parta.reason")) == (403, "media_not_yours_to_share"), body
    code, body = await w.teacher_b.attempt("POST", f"{V}/createRoom", {
        "preset": "private_chat", "name": "Аватар",
        "initial_state": [{"type": "m.room.avatar", "state_key": "", "content": {"url": posted["photo"]}}]})
    if code == 200:  # Parta may refuse the avatar itself; either way the file stays closed
        refused(await download(w.teacher_b, posted["photo"]))
    refused(await download(w.teacher_b, posted["sheet"]))
    # one's own upload is posted anywhere one may post
    mine = await upload(w.teacher_b, png(colour=(0, 90, 200)), "image/png", "own.png")
    code, body = await post_file(w.teacher_b, own, mine, "own.png", "m.image")
    assert code == 200, body


async def test_the_legacy_unauthenticated_download_path(w, posted):
    """``/_matrix/media/v3/download`` takes no token: nobody is known, so nothing local is served
    (404, as for unknown media), to a classmate with a token neither."""
    path = f"/_matrix/media/v3/download/{mxc_path(posted['sheet'])}"
    for who in (None, w.classmate):
        status, _b, data = await fetch(who, path, base=w.teacher.base_url)
        assert (status, data.get("errcode")) == (404, "M_NOT_FOUND"), (status, data)
        assert "org.parta.reason" not in data
    status, _b, data = await fetch(None, f"/_matrix/media/v3/thumbnail/{mxc_path(posted['photo'])}",
                                   {"width": "32", "height": "32"}, base=w.teacher.base_url)
    assert (status, data.get("errcode")) == (404, "M_NOT_FOUND"), (status, data)
    served(await download(w.classmate, posted["sheet"]), posted["sheet_bytes"])


async def test_media_an_edit_brings_into_a_room(w):
    """An edit's ``m.new_content`` carries a file too: after the teacher edits a message to attach a
    new worksheet, the classmate downloads it."""
    v2 = "Исправленное задание".encode()
    uri = await upload(w.teacher, v2, "text/plain", "v2.txt")
    event_id = await w.teacher.send_text(w.class_chat, "задание")
    code, body = await w.teacher.attempt("PUT", f"{V}/rooms/{q(w.class_chat)}/send/m.room.message/e{next(_n)}", {
        "msgtype": "m.file", "body": "* v2.txt", "url": uri,
        "m.new_content": {"msgtype": "m.file", "body": "v2.txt", "url": uri},
        "m.relates_to": {"rel_type": "m.replace", "event_id": event_id}})
    assert code == 200, body
    served(await download(w.classmate, uri), v2)
    refused(await download(w.other_class, uri))


# -- cost ---------------------------------------------------------------------------------
async def test_the_check_costs_little_per_download(w, posted, hs):
    """Downloads of the same file by a classmate (the full check: the table's rooms, the member's
    rooms) against the bot's (the check stops at its first comparison: the check off), interleaved
    in the same run; and the check's own CPU per download from the module's meter."""
    async def stats() -> dict:
        status, _b, data = await fetch(w.bot, "/_synapse/client/parta/stats")
        assert status == 200, data
        return data["callbacks"].get("media_download", {"calls": 0, "cpu_ns": 0})

    async def timed(u: User, n: int) -> list[float]:
        out = []
        for _ in range(n):
            t = time.perf_counter()
            served(await download(u, posted["sheet"]))
            out.append(time.perf_counter() - t)
        return out

    await timed(w.classmate, 5)
    await timed(w.bot, 5)
    before = await stats()
    checked, unchecked = [], []
    for _ in range(10):
        checked += await timed(w.classmate, 20)
        unchecked += await timed(w.bot, 20)
    after = await stats()
    ratio = statistics.median(checked) / statistics.median(unchecked)
    calls = after["calls"] - before["calls"]
    cpu_us = (after["cpu_ns"] - before["cpu_ns"]) / max(calls, 1) / 1000
    print(f"\nmedia download: checked {statistics.median(checked) * 1000:.2f} ms, "
          f"unchecked (bot) {statistics.median(unchecked) * 1000:.2f} ms, ratio {ratio:.3f}; "
          f"check CPU {cpu_us:.0f} µs per download over {calls} downloads")
    assert calls == 400
    assert ratio < 1.5, ratio
