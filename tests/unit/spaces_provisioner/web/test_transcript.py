"""A room's history on paper (web.transcript): edits and redactions marked, every value escaped."""

from __future__ import annotations

import io

import pypdf

from policies.i18n import set_language

from spaces_provisioner.web.transcript import transcript_html, transcript_pdf


def transcript() -> dict:
    def line(i: int, text: str, **kw) -> dict:
        return {"event_id": f"$e{i}", "ts": i, "time": f"2026-05-20T09:1{i}:00+03:00", "sender": "@t:s",
                "sender_name": "Орлова Анна Петровна", "type": "m.room.message", "line": "message", "text": text,
                "msgtype": "m.text", "edited": False, "edits": [], "redacted": False, **kw}
    return {"org": "school-7", "org_name": "Школа № 7", "room_id": "!r:s", "name": "5А: чат класса",
            "kind": "class_chat", "class": "5А", "timezone": "Europe/Moscow",
            "exported_at": "2026-05-21T10:00:00+03:00", "exported_by": "@a:s", "exported_by_name": "Админ",
            "members": [{"user_id": "@t:s", "name": "Орлова Анна Петровна", "role": "teacher",
                         "role_title": "учитель"}],
            "events": [
                {**line(1, "Орлова Анна Петровна вошёл(а) в комнату"), "line": "membership"},
                line(2, "Контрольная в пятницу", edited=True, edited_at="2026-05-20T09:30:00+03:00",
                     edits=[{"ts": 2, "time": "2026-05-20T09:12:00+03:00", "text": "Контрольная в четверг"}]),
                line(3, "", redacted=True, redacted_by="@a:s", redacted_by_name="Админ",
                     redacted_at="2026-05-20T10:00:00+03:00", redaction_reason="оскорбление"),
                line(4, "<script>alert(1)</script> & ещё"),
            ],
            "counts": {"messages": 3, "edited": 1, "redacted": 1}}


def test_pdf_shows_the_conversation_with_the_edit_and_the_redaction():
    set_language("ru")
    reader = pypdf.PdfReader(io.BytesIO(transcript_pdf(transcript())))
    text = " ".join(p.extract_text() for p in reader.pages)
    for expected in ("История комнаты", "5А: чат класса", "Контрольная в пятницу", "изменено",
                     "до изменения", "Контрольная в четверг", "Сообщение удалено", "оскорбление", "Школа № 7"):
        assert expected in text, (expected, text)


def test_html_escapes_and_marks():
    set_language("ru")
    page = transcript_html(transcript())
    assert "<script>alert" not in page and "&lt;script&gt;" in page
    assert "изменено" in page and "Контрольная в четверг" in page and "Сообщение удалено: Админ" in page
