"""A room's history on paper: the transcript of :meth:`spaces_provisioner.ops.export.Export.transcript` as a
standalone HTML page (:func:`transcript_html`: no scripts, no external resources, print CSS) or a PDF
(:func:`transcript_pdf`: reportlab, A4, DejaVu Sans embedded as in the class sheets, so Cyrillic prints on
any machine).

Each line: the time (the school's zone), the sender's name, the text. An edited message shows its final
text marked «изменено» with each earlier text under it; a redacted message shows «сообщение удалено», who
removed it, when and the reason; joins, leaves and renames are grey lines. The header names the school,
the room, its members, who exported it and when. Text is in the current language (:mod:`policies.i18n`).
"""

from __future__ import annotations

import html
import io

from policies.i18n import _

from spaces_provisioner.web.sheets import _BOLD, _REGULAR, _register_fonts


def _time(iso: str | None) -> str:
    """``2026-05-20T09:15:00+03:00`` → ``2026-05-20 09:15``."""
    return (iso or "")[:16].replace("T", " ")


def _header(t: dict) -> list[tuple[str, str]]:
    """(label, value) lines of the transcript's header."""
    return [(_("Organization"), t["org_name"]), (_("Room"), f"{t['name']} ({t['room_id']})"),
            (_("Members"), ", ".join(m["name"] + (f" ({m['role_title']})" if m["role_title"] else "")
                                      for m in t["members"]) or "—"),
            (_("Exported"), f"{_time(t['exported_at'])} ({t['timezone']}), {t['exported_by_name']}"),
            (_("Messages"), _("{messages} (edited: {edited}, deleted: {redacted})").format(**t["counts"]))]


def _redaction(e: dict) -> str:
    """«Message deleted by X at T: reason»."""
    text = _("Message deleted by {name} at {time}").format(name=e.get("redacted_by_name") or "",
                                                            time=_time(e.get("redacted_at")))
    if e.get("redaction_reason"):
        text += _("; reason: {reason}").format(reason=e["redaction_reason"])
    return text


_CSS = """
body{font-family:"DejaVu Sans","PT Sans","Noto Sans",Arial,sans-serif;margin:12mm;color:#000;font-size:10pt}
h1{font-size:14pt;margin:0 0 3mm}
table.head td{padding:0 4mm 1mm 0;vertical-align:top}
.line{margin:2mm 0;page-break-inside:avoid}
.meta{color:#444;font-size:8.5pt}
.who{font-weight:bold}
.text{white-space:pre-wrap;overflow-wrap:anywhere}
.state{color:#666;font-style:italic}
.edited,.deleted{font-size:8.5pt;font-weight:bold;color:#8a4b00}
.deleted{color:#a00000}
.before{color:#555;font-size:8.5pt;margin-left:6mm;white-space:pre-wrap}
@media print{body{margin:0}}
"""


def transcript_html(t: dict) -> str:
    """The transcript ``t`` as a standalone UTF-8 HTML page (every value escaped)."""
    esc = html.escape
    out = ["<!doctype html>", '<html><head><meta charset="utf-8">',
           f"<title>{esc(t['name'])}</title><style>{_CSS}</style></head><body>",
           f"<h1>{esc(_('History of the room'))} «{esc(t['name'])}»</h1>", '<table class="head">']
    out += [f"<tr><td>{esc(k)}</td><td>{esc(v)}</td></tr>" for k, v in _header(t)]
    out.append("</table><hr>")
    for e in t["events"]:
        meta = f'<span class="meta">{esc(_time(e["time"]))}</span> '
        if e["line"] != "message":
            out.append(f'<div class="line state">{meta}{esc(e["text"])}</div>')
            continue
        who = f'<span class="who">{esc(e["sender_name"])}</span>'
        if e["redacted"]:
            out.append(f'<div class="line">{meta}{who}: <span class="deleted">[{esc(_redaction(e))}]</span></div>')
            continue
        mark = (f' <span class="edited">[{esc(_("edited"))} {esc(_time(e.get("edited_at")))}]</span>'
                if e["edited"] else "")
        file = f' <span class="meta">({esc(_("file"))}: {esc(e["file"])})</span>' if e.get("file") else ""
        out.append(f'<div class="line">{meta}{who}:{mark} <span class="text">{esc(e["text"])}</span>{file}')
        for before in e["edits"]:
            out.append(f'<div class="before">{esc(_("before the edit"))} ({esc(_time(before["time"]))}): '
                       f'{esc(before["text"])}</div>')
        out.append("</div>")
    out.append("</body></html>")
    return "\n".join(out)


def transcript_pdf(t: dict) -> bytes:
    """The transcript ``t`` as a PDF (A4, reportlab's platypus; fonts embedded)."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

    _register_fonts()
    esc = html.escape
    title = ParagraphStyle("title", fontName=_BOLD, fontSize=14, leading=18, spaceAfter=4 * mm)
    head = ParagraphStyle("head", fontName=_REGULAR, fontSize=9, leading=12)
    body = ParagraphStyle("body", fontName=_REGULAR, fontSize=10, leading=13, spaceBefore=1.5 * mm)
    state = ParagraphStyle("state", parent=body, textColor=colors.grey)
    before = ParagraphStyle("before", parent=body, fontSize=8.5, leading=11, leftIndent=8 * mm, spaceBefore=0,
                            textColor=colors.HexColor("#555555"))

    def text(s: str) -> str:
        return esc(s).replace("\n", "<br/>")

    story = [Paragraph(f"{esc(_('History of the room'))} «{esc(t['name'])}»", title)]
    story += [Paragraph(f"<font name='{_BOLD}'>{esc(k)}:</font> {esc(v)}", head) for k, v in _header(t)]
    story.append(Spacer(1, 4 * mm))
    for e in t["events"]:
        when = f"<font color='#555555' size='8.5'>{esc(_time(e['time']))}</font>"
        if e["line"] != "message":
            story.append(Paragraph(f"{when} {text(e['text'])}", state))
            continue
        who = f"<font name='{_BOLD}'>{esc(e['sender_name'])}</font>"
        if e["redacted"]:
            story.append(Paragraph(f"{when} {who}: <font color='#a00000'>[{esc(_redaction(e))}]</font>", body))
            continue
        mark = (f" <font color='#8a4b00' size='8.5'>[{esc(_('edited'))} {esc(_time(e.get('edited_at')))}]</font>"
                if e["edited"] else "")
        file = f" <font color='#555555' size='8.5'>({esc(_('file'))}: {esc(e['file'])})</font>" if e.get("file") else ""
        story.append(Paragraph(f"{when} {who}:{mark} {text(e['text'])}{file}", body))
        for b in e["edits"]:
            story.append(Paragraph(f"{esc(_('before the edit'))} ({esc(_time(b['time']))}): {text(b['text'])}",
                                   before))
    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=A4, leftMargin=15 * mm, rightMargin=15 * mm, topMargin=15 * mm,
                            bottomMargin=15 * mm, title=t["name"], author="Parta")
    doc.build(story)
    return out.getvalue()
