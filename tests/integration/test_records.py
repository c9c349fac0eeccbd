"""Issue 12, the school's records: a room's history exported for a dispute (JSON, PDF, HTML, ``parta export``),
audited; and retention per school year: a dry run lists last year's archived class rooms, the purge removes
their messages (a member's /messages shows none) and their files (download 404), state stays.
"""

from __future__ import annotations

import asyncio
import io
import json

import pypdf
import pytest
import sqlalchemy as sa

from policies.templates import RoomRef, default_templates

from spaces_provisioner.db import schema as st

from ..helpers import User, q
from ..schools import attack_cast, write_attack_roster
from .media_world import download
from .records_world import EDITED, FIRST, REASON, REPLY, RUDE, Records, build, export, retention, send

pytestmark = pytest.mark.synapse
T = default_templates()
V = "/_matrix/client/v3"


@pytest.fixture(scope="module")
async def w(hs, tmp_path_factory) -> Records:
    return await build(hs, tmp_path_factory)


def audit_lines(hs, action: str) -> list[dict]:
    """The service's audit log lines of ``action`` (detail decoded)."""
    engine = st.make_engine(hs.settings.database)
    try:
        with engine.begin() as tx:
            rows = tx.execute(sa.select(st.audit_log).where(st.audit_log.c.action == action)).all()
    finally:
        engine.dispose()
    return [{"actor": r.actor, **json.loads(r.detail)} for r in rows]


async def test_export_json_marks_the_edit_and_the_redaction(w, hs):
    code, t, _ctype = await export(hs, w.admin, w.org, w.chat)
    assert code == 200, t
    assert isinstance(t, dict) and t["room_id"] == w.chat and t["org"] == w.org and t["kind"] == "class_chat"
    lines = {e["event_id"]: e for e in t["events"]}
    edited = lines[w.edited]
    assert edited["text"] == EDITED and edited["edited"] and edited["edits"][0]["text"] == FIRST, edited
    assert edited["sender_name"] and edited["sender_name"] != w.teacher.user_id, edited     # a name, not an id
    gone = lines[w.redacted]
    assert gone["redacted"] and gone["redacted_by"] == w.teacher.user_id and gone["redaction_reason"] == REASON, gone
    assert RUDE not in json.dumps(t, ensure_ascii=False)            # the homeserver no longer has the text
    assert any(e["text"] == REPLY for e in t["events"])
    assert t["counts"]["edited"] == 1 and t["counts"]["redacted"] == 1, t["counts"]
    # edits are not lines of their own
    assert sum(1 for e in t["events"] if e["text"] in (EDITED, f"* {EDITED}")) == 1
    assert any(e["line"] == "membership" for e in t["events"])
    assert {m["user_id"] for m in t["members"]} >= {w.teacher.user_id, w.student.user_id}
    assert t["exported_at"].endswith("+03:00")                       # the school's zone (Europe/Moscow)
    mine = [a for a in audit_lines(hs, "room.export") if a["room"] == w.chat and a["actor"] == w.admin.user_id]
    assert mine and mine[0]["org"] == w.org and mine[0]["format"] == "json", mine


async def test_export_pdf_shows_the_conversation(w, hs):
    code, pdf, ctype = await export(hs, w.admin, w.org, w.chat, "pdf")
    assert code == 200 and ctype == "application/pdf", pdf
    assert isinstance(pdf, bytes)
    text = " ".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf)).pages)
    flat = " ".join(text.split())
    for expected in (EDITED, FIRST, "изменено", "до изменения", "Сообщение удалено", REASON, REPLY, "История комнаты"):
        assert expected in flat, (expected, flat)
    assert RUDE not in flat
    assert any(a["format"] == "pdf" for a in audit_lines(hs, "room.export") if a["room"] == w.chat)


async def test_export_html_and_the_command_line(w, hs, tmp_path):
    code, page, ctype = await export(hs, w.admin, w.org, w.chat, "html")
    assert code == 200 and ctype == "text/html" and isinstance(page, bytes)
    html = page.decode("utf-8")
    assert EDITED in html and "изменено" in html and REASON in html and RUDE not in html
    # parta export, with the operator's token (the installation's directory)
    from spaces_provisioner.cli.main import main

    out = tmp_path / "chat.pdf"
    rc = await asyncio.to_thread(main, ["export", "--org", w.org, w.chat, "--format", "pdf", "--out", str(out),
                                        "-d", str(hs.settings.root)])
    assert rc == 0 and out.read_bytes().startswith(b"%PDF")
    assert any(a["actor"] == "operator" for a in audit_lines(hs, "room.export") if a["room"] == w.chat)


async def test_the_head_exports_a_parents_room(w, hs):
    code, t, _ = await export(hs, w.admin, w.org, w.parents)
    assert code == 200 and isinstance(t, dict) and t["kind"] == "class_parents", t


async def messages(u: User, room: str) -> list[dict]:
    r = await u.get(f"{V}/rooms/{q(room)}/messages", query={"dir": "b", "limit": "100"})
    return [e for e in r["chunk"] if e.get("type") == "m.room.message"]


async def test_retention_purges_last_years_class_rooms(hs, tmp_path):
    c = attack_cast()
    school = await hs.new_school(roster=write_attack_roster(tmp_path / "roster"))
    org = school["org"]
    pupil = await hs.person(org, c.student)
    chat = await hs.bot.resolve_alias(f"#{T.alias_localpart(RoomRef(org, 'class_chat', c.class_id))}:{hs.server_name}")
    async with pupil.api.session.post(f"{pupil.base_url}/_matrix/media/v3/upload", params={"filename": "a.pdf"},
                                      data=b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R "
                                           b">>\n%%EOF\n", headers={"Authorization": f"Bearer {pupil.token}",
                                                                   "Content-Type": "application/pdf"}) as r:
        assert r.status == 200, await r.text()
        mxc = (await r.json())["content_uri"]
    await send(pupil, chat, {"msgtype": "m.text", "body": "Домашнее задание на лето"})
    await send(pupil, chat, {"msgtype": "m.file", "body": "a.pdf", "url": mxc})
    assert (await download(pupil, mxc))[0] == 200

    # nothing archived yet: nothing is due
    code, before = await retention(hs, hs.settings.operator_token, org, dry_run=True)
    assert code == 200 and before["due"] == [] and before["archived_months"] == 12, before
    # last year's rooms: the rollover of 2023/24 (ended 2024-06-30; kept 12 months: due since 2025-07-01)
    await hs.api.rollover(org, year="2023/24")
    code, dry = await retention(hs, hs.settings.operator_token, org, dry_run=True)
    assert code == 200 and dry["dry_run"] and dry["purged"] == 0, dry
    due = {r["room_id"]: r for r in dry["due"]}
    assert chat in due and due[chat]["year"] == "2023/24" and due[chat]["purge_after"] == "2025-07-01", dry
    assert due[chat]["messages"] >= 2 and due[chat]["media"] == 1 and due[chat]["kind"] == "class_chat", due[chat]
    assert len(await messages(pupil, chat)) >= 2 and (await download(pupil, mxc))[0] == 200   # nothing written

    code, done = await retention(hs, hs.settings.operator_token, org, dry_run=False)
    assert code == 200 and done["purged"] == len(dry["due"]) and chat in {r["room_id"] for r in done["due"]}, done
    left = await messages(pupil, chat)
    assert [e["content"].get("msgtype") for e in left] == ["m.notice"], left       # only the bot's notice
    assert "2023/24" in left[0]["content"]["body"]
    status, _body, _headers = await download(pupil, mxc)
    assert status == 404, status
    # state stays: the name, the members, the archive's tag; the pupil is still in the room
    name = await pupil.get(f"{V}/rooms/{q(chat)}/state/m.room.name")
    assert name["name"].endswith("(2023/24)")
    assert chat in set((await pupil.get(f"{V}/joined_rooms"))["joined_rooms"])
    # a second run purges nothing again; the purge is audited
    code, again = await retention(hs, hs.settings.operator_token, org, dry_run=True)
    assert code == 200 and again["due"] == [], again
    assert any(a["room"] == chat and a["org"] == org for a in audit_lines(hs, "retention.purge"))
    # this year's class chat is untouched
    new_chat = await hs.bot.resolve_alias(
        f"#{T.alias_localpart(RoomRef(org, 'class_chat', 'class-06a'))}:{hs.server_name}")
    assert new_chat is not None
    await send(pupil, new_chat, {"msgtype": "m.text", "body": "Привет, 6А"})
    assert len(await messages(pupil, new_chat)) >= 1


async def test_retention_purges_old_messages_of_direct_chats(hs, tmp_path, capsys):
    # retention_direct_chats_months: 0 — every message older than now goes (Synapse keeps the newest one)
    c = attack_cast()
    school = await hs.new_school(roster=write_attack_roster(tmp_path / "roster"),
                                 settings={"retention_direct_chats_months": 0})
    org = school["org"]
    pupil = await hs.person(org, c.student)
    teacher = await hs.person(org, c.teacher, confirmed=True)
    dm = await pupil.create_room({"is_direct": True, "invite": [teacher.user_id], "preset": "trusted_private_chat"})
    await teacher.join(dm)
    async with pupil.api.session.post(f"{pupil.base_url}/_matrix/media/v3/upload", params={"filename": "b.pdf"},
                                      data=b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R "
                                           b">>\n%%EOF\n", headers={"Authorization": f"Bearer {pupil.token}",
                                                                   "Content-Type": "application/pdf"}) as r:
        assert r.status == 200, await r.text()
        mxc = (await r.json())["content_uri"]
    await send(pupil, dm, {"msgtype": "m.file", "body": "b.pdf", "url": mxc})
    await send(pupil, dm, {"msgtype": "m.text", "body": "Можно сдать работу завтра?"})
    await send(teacher, dm, {"msgtype": "m.text", "body": "Да, до 18:00"})
    assert (await download(teacher, mxc))[0] == 200

    code, dry = await retention(hs, hs.settings.operator_token, org, dry_run=True)
    assert code == 200 and dry["direct_chats_months"] == 0, dry
    chats = {ch["room_id"]: ch for ch in dry["chats"]}
    assert dm in chats and chats[dm]["kind"] == "dm" and chats[dm]["messages"] >= 2 and chats[dm]["media"] == 1, dry
    assert len(await messages(pupil, dm)) == 3                                     # nothing written
    # the same dry run from the command line
    from spaces_provisioner.cli.main import main

    capsys.readouterr()
    rc = await asyncio.to_thread(main, ["retention", "run", "--org", org, "--dry-run", "-d", str(hs.settings.root)])
    assert rc == 0 and dm in capsys.readouterr().out

    code, done = await retention(hs, hs.settings.operator_token, org, dry_run=False)
    assert code == 200 and dm in {ch["room_id"] for ch in done["chats"]}, done
    left = await messages(pupil, dm)
    assert [e["content"]["body"] for e in left] == ["Да, до 18:00"], left           # the newest stays
    assert (await download(teacher, mxc))[0] == 404
    # the chat goes on
    await send(pupil, dm, {"msgtype": "m.text", "body": "Спасибо!"})
    assert len(await messages(teacher, dm)) == 2
    assert any(a["room"] == dm and a.get("kind") == "dm" for a in audit_lines(hs, "retention.purge"))
