"""Issue 11: files stay inside the school, attacked. Each test is a real request by someone who
holds the ``mxc://`` URI of a file posted in 5А's class chat (a pupil of school B, an account in no
organization, a pupil of another class, a pupil who left the chat, school B's teacher laundering the
URI through a room of their own, a client on the legacy unauthenticated path), refused with its
status, errcode and Parta's reason, next to the legitimate request that succeeds
(``synapse_module.media_access``, ``policies.media_access``; docs/security.md lists them).

World: ``tests/integration/media_world.py``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from ..helpers import q
from .media_world import (
    V,
    World,
    download,
    fetch,
    make_world,
    mxc_path,
    next_txn,
    png,
    post_file,
    refused,
    served,
    thumbnail,
    upload,
)

pytestmark = pytest.mark.synapse


@pytest.fixture(scope="module")
async def w(hs, tmp_path_factory) -> AsyncIterator[World]:
    world = await make_world(hs, tmp_path_factory.mktemp("media-attacks"))
    yield world
    await world.bot.close()


async def test_a_pupil_of_another_school_downloads_a_class_file(w):
    for who in (w.student_b, w.outsider):
        refused(await download(who, w.files["sheet"]))
        refused(await download(who, w.files["photo"]))
        refused(await thumbnail(who, w.files["photo"]))
    served(await download(w.classmate, w.files["sheet"]), w.files["sheet_bytes"])
    served(await thumbnail(w.classmate, w.files["photo"]))


async def test_a_pupil_of_another_class_downloads_a_class_file(w):
    body = refused(await download(w.other_class, w.files["sheet"]))
    assert "members of the chats" in body["org.parta.messages"]["en"]
    refused(await thumbnail(w.other_class, w.files["photo"]))
    served(await download(w.student, w.files["sheet"]), w.files["sheet_bytes"])


async def test_a_pupil_who_left_the_class_chat_downloads_its_file(w):
    served(await download(w.leaver, w.files["sheet"]), w.files["sheet_bytes"])  # while a member
    await w.leaver.leave(w.class_chat)
    refused(await download(w.leaver, w.files["sheet"]))  # at once: no stale cache
    refused(await thumbnail(w.leaver, w.files["photo"]))
    served(await download(w.classmate, w.files["sheet"]), w.files["sheet_bytes"])


async def test_someone_downloads_an_upload_that_was_never_posted(w):
    draft = "Черновик контрольной".encode()
    uri = await upload(w.teacher, draft, "text/plain", "draft.txt")
    for who in (w.classmate, w.student_b):
        refused(await download(who, uri))
    served(await download(w.teacher, uri), draft)


async def test_a_held_uri_is_posted_into_an_own_room_to_open_it(w):
    """Laundering: school B's teacher posts the URI in a room of their own (as a file, as an
    ``<img>`` in HTML) to become a member of a room it was "posted" in. Refused at sending; and a
    room that carries it anyway (as its avatar at creation, which no spam check sees) grants nothing."""
    own = await w.teacher_b.create_room({"preset": "private_chat", "name": "Мои файлы"})
    code, body = await post_file(w.teacher_b, own, w.files["sheet"], "mine.txt")
    assert (code, body.get("org.parta.reason")) == (403, "media_not_yours_to_share"), body
    code, body = await w.teacher_b.attempt("PUT", f"{V}/rooms/{q(own)}/send/m.room.message/h{next_txn()}", {
        "msgtype": "m.text", "body": "см.", "format": "org.matrix.custom.html",
        "formatted_body": f'<img src="{w.files["photo"]}">'})
    assert (code, body.get("org.parta.reason")) == (403, "media_not_yours_to_share"), body
    code, body = await w.teacher_b.attempt("POST", f"{V}/createRoom", {
        "preset": "private_chat", "name": "Аватар",
        "initial_state": [{"type": "m.room.avatar", "state_key": "", "content": {"url": w.files["photo"]}}]})
    assert code in (200, 403), body  # Parta may refuse the avatar itself; either way the file stays closed
    refused(await download(w.teacher_b, w.files["photo"]))
    refused(await download(w.teacher_b, w.files["sheet"]))
    mine = await upload(w.teacher_b, png(colour=(0, 90, 200)), "image/png", "own.png")
    code, body = await post_file(w.teacher_b, own, mine, "own.png", "m.image")  # one's own upload: posted
    assert code == 200, body


async def test_the_legacy_unauthenticated_download_path(w):
    """``/_matrix/media/v3/download`` and ``/thumbnail`` take no token: nobody is known, so nothing
    local is served (404 ``M_NOT_FOUND``, the answer for unknown media, with no Parta reason that
    would tell the file exists), even to a classmate who sends one."""
    path = f"/_matrix/media/v3/download/{mxc_path(w.files['sheet'])}"
    for who in (None, w.classmate):
        status, _b, data = await fetch(who, path, base=w.teacher.base_url)
        assert (status, data.get("errcode")) == (404, "M_NOT_FOUND"), (status, data)
        assert "org.parta.reason" not in data
    status, _b, data = await fetch(None, f"/_matrix/media/v3/thumbnail/{mxc_path(w.files['photo'])}",
                                   {"width": "320", "height": "240"}, base=w.teacher.base_url)
    assert (status, data.get("errcode")) == (404, "M_NOT_FOUND"), (status, data)
    served(await download(w.classmate, w.files["sheet"]), w.files["sheet_bytes"])


async def test_a_file_an_edit_attached_is_opened_by_another_class(w):
    """An edit's ``m.new_content`` carries a file too: the teacher edits a message to attach a new
    worksheet; the classmate downloads it, the pupil of another class does not."""
    v2 = "Исправленное задание".encode()
    uri = await upload(w.teacher, v2, "text/plain", "v2.txt")
    event_id = await w.teacher.send_text(w.class_chat, "задание")
    code, body = await w.teacher.attempt("PUT", f"{V}/rooms/{q(w.class_chat)}/send/m.room.message/e{next_txn()}", {
        "msgtype": "m.file", "body": "* v2.txt", "url": uri,
        "m.new_content": {"msgtype": "m.file", "body": "v2.txt", "url": uri},
        "m.relates_to": {"rel_type": "m.replace", "event_id": event_id}})
    assert code == 200, body
    refused(await download(w.other_class, uri))
    served(await download(w.classmate, uri), v2)


async def test_someone_outside_an_encrypted_chat_downloads_its_attachment(w):
    """An encrypted attachment's URI travels inside ciphertext, so no room records it: an opaque
    upload (``application/octet-stream``) goes to people in an encrypted room with its uploader.
    School B's teacher opens an encrypted chat with their pupil; a pupil of school A holding the
    URI is refused, and the pupil gets no other (typed) upload of the teacher's that way."""
    room = await w.teacher_b.create_room({
        "preset": "private_chat", "name": "Консультация", "invite": [w.student_b.user_id],
        "initial_state": [{"type": "m.room.encryption", "state_key": "",
                           "content": {"algorithm": "m.megolm.v1.aes-sha2"}}]})
    await w.student_b.join(room)
    assert ("m.room.encryption", "") in await w.teacher_b.state(room)
    blob = png(colour=(10, 200, 10))  # stands for ciphertext: Parta keeps only bytes it can type
    uri = await upload(w.teacher_b, blob, "application/octet-stream", "")
    typed = await upload(w.teacher_b, "План урока".encode(), "text/plain", "plan.txt")
    for who in (w.classmate, w.outsider):
        refused(await download(who, uri))
    refused(await download(w.student_b, typed))
    served(await download(w.student_b, uri), blob)


async def test_a_file_posted_in_clear_is_no_encrypted_attachment(w):
    """Issue 11 attack F8: the encrypted-attachment exception (an opaque upload goes to people in an
    encrypted room with its uploader) held for every opaque upload of the person, also one posted in
    clear. School B's teacher posts an ``application/octet-stream`` file in an unencrypted room; their
    pupil, who shares only an encrypted chat with the teacher, is refused it; an attachment never
    posted in clear still reaches the pupil."""
    chat = await w.teacher_b.create_room({
        "preset": "private_chat", "name": "Консультация 2", "invite": [w.student_b.user_id],
        "initial_state": [{"type": "m.room.encryption", "state_key": "",
                           "content": {"algorithm": "m.megolm.v1.aes-sha2"}}]})
    await w.student_b.join(chat)
    clear_room = await w.teacher_b.create_room({"preset": "private_chat", "name": "Черновики учителя"})
    staff_file = png(colour=(120, 120, 10))
    posted = await upload(w.teacher_b, staff_file, "application/octet-stream", "")
    code, body = await post_file(w.teacher_b, clear_room, posted, "plan.bin")
    assert code == 200, body
    refused(await download(w.student_b, posted))
    served(await download(w.teacher_b, posted), staff_file)
    attachment = png(colour=(120, 10, 120))  # stands for ciphertext, posted only inside the encrypted chat
    uri = await upload(w.teacher_b, attachment, "application/octet-stream", "")
    served(await download(w.student_b, uri), attachment)


async def test_a_file_sent_under_a_programs_name(w):
    """Issue 11 attack F2 by the message: clients save an attachment under the event's file name
    (``filename``, else ``body``), so a pupil uploads a script as ``dz.txt`` (plain text to its bytes)
    and posts it as ``homework.bat``; refused as the upload of that name would be."""
    uri = await upload(w.student, b"@echo off\r\nstart calc\r\n", "text/plain", "dz.txt")
    for name, extra in (("homework.bat", {}), ("Домашка", {"filename": "homework.hta"}),
                        ("dz.txt", {"info": {"mimetype": "application/x-bat"}})):
        code, body = await post_file(w.student, w.class_chat, uri, name, **extra)
        assert (code, body.get("errcode"), body.get("org.parta.reason")) == (403, "M_FORBIDDEN", "file_is_program"), \
            body
    code, body = await post_file(w.student, w.class_chat, uri, "dz.txt", info={"mimetype": "text/plain"})
    assert code == 200, body
