"""Class sheets: printable cards with each expected person's personal registration code.

One card per person of an imported roster: the name, the role, the personal code in
large monospace letters, a QR code of the registration page for that code, and two lines
on how to use it (scan or open the link; or in Element choose "Create account", enter
the homeserver and the code). Cards are laid out two columns wide on A4, with dashed
cut lines, so that a class teacher can print the sheet and hand each person their card.

Two renderings of the same sheet:

* :func:`class_sheet_html` - a standalone UTF-8 HTML page (inline SVG QR codes, print
  CSS, no scripts and no external resources), for a browser's "Print";
* :func:`class_sheet_pdf` - a PDF (reportlab), 8 cards per A4 page, QR codes as images,
  text in DejaVu Sans with the font subset embedded (Cyrillic works on any machine).

Fonts: the PDF embeds DejaVu Sans / DejaVu Sans Mono from the ``matplotlib`` package
(``matplotlib/mpl-data/fonts/ttf``), found by path without importing matplotlib. A
machine may have no system fonts at all, and PDF's built-in fonts have no Cyrillic.

Text is in the sheet's ``language`` (``ru`` or ``en``, see :mod:`policies.i18n`).
"""

from __future__ import annotations

import functools
import html
import importlib.util
import io
import math
import re
from dataclasses import dataclass
from pathlib import Path

import qrcode
import qrcode.constants

from policies.i18n import gettext_
from policies.labels import role_title


@dataclass(frozen=True)
class SheetEntry:
    """One card of a class sheet.

    ``name``: the person's full name, e.g. ``"Иванов Иван Иванович"``;
    ``role``: a Parta role (``student``, ``parent``, ``teacher``, ``head``, ``admin``),
    shown translated (any other value is shown as it is);
    ``code``: the personal registration code, e.g. ``"K7MQ-3XHE-P9TW"``;
    ``url``: the registration page for this code (``http://`` or ``https://``), e.g.
    ``"https://school.example/register?code=K7MQ-3XHE-P9TW"`` - the QR code holds it;
    ``note``: an optional line under the name, e.g. ``"родитель: Иванов Иван"``.
    """

    name: str
    role: str
    code: str
    url: str
    note: str = ""


#: Cards per PDF page: 2 columns x 4 rows on A4.
COLUMNS = 2
ROWS = 4
CARDS_PER_PAGE = COLUMNS * ROWS

#: QR error correction: M restores 15% of a smudged or creased print.
_QR_ERROR_CORRECTION = qrcode.constants.ERROR_CORRECT_M
#: The quiet zone around a QR code, in modules (the standard asks for 4).
_QR_BORDER = 4


# --- What both renderings share -------------------------------------------------------


def role_label(role: str, language: str) -> str:
    """The role as a card shows it in ``language`` (``policies.labels``; unknown roles as they are)."""
    return role_title(role, language)


def _instructions(entry: SheetEntry, homeserver: str, language: str) -> tuple[str, str]:
    """The two lines of instructions of a card."""
    return (
        gettext_("Scan the QR code or open {url}", language).format(url=entry.url),
        gettext_("Or in Element choose “Create account”, enter the server {homeserver} and this code",
                 language).format(homeserver=homeserver),
    )


def _check(title: str, entries: list[SheetEntry], homeserver: str, language: str) -> None:
    """Raise ValueError (in ``language``) for a sheet that cannot be printed as asked.

    The language is checked first (:func:`policies.i18n.translations` raises for an
    unsupported one).
    """
    gettext_("Personal code", language)  # raises ValueError for an unsupported language
    if not entries:
        raise ValueError(gettext_("The sheet {title} has no people", language).format(title=title))
    if not homeserver.strip():
        raise ValueError(gettext_("The homeserver address is empty", language))
    for entry in entries:
        if not entry.name.strip() or not entry.code.strip():
            raise ValueError(gettext_("A card lacks a name or a code (name: {name}, code: {code})", language).format(
                name=entry.name, code=entry.code))
        if not re.match(r"https?://[^\s]+\Z", entry.url, re.IGNORECASE):
            raise ValueError(
                gettext_("The registration address of {name} is not an http(s) link: {url}", language).format(
                    name=entry.name, url=entry.url))


def _qr_matrix(data: str) -> list[list[bool]]:
    """The QR code of ``data`` as rows of modules (True = dark), quiet zone included."""
    qr = qrcode.QRCode(error_correction=_QR_ERROR_CORRECTION, border=_QR_BORDER)
    qr.add_data(data)
    qr.make(fit=True)
    return qr.get_matrix()


# --- HTML ------------------------------------------------------------------------------


def qr_svg(data: str, *, label: str = "") -> str:
    """An inline ``<svg>`` element with the QR code of ``data``.

    The dark modules are one ``<path>`` of unit rectangles (``M{x} {y}h{w}v1h-{w}z`` per
    horizontal run) in a ``viewBox`` of the code's size, quiet zone included. ``label``
    becomes the element's ``aria-label``.
    """
    matrix = _qr_matrix(data)
    size = len(matrix)
    runs = []
    for y, row in enumerate(matrix):
        x = 0
        while x < size:
            if row[x]:
                start = x
                while x < size and row[x]:
                    x += 1
                runs.append(f"M{start} {y}h{x - start}v1h-{x - start}z")
            else:
                x += 1
    aria = f' aria-label="{html.escape(label)}"' if label else ""
    return (f'<svg class="qr" viewBox="0 0 {size} {size}" role="img"{aria} shape-rendering="crispEdges">'
            f'<rect width="{size}" height="{size}" fill="#fff"/>'
            f'<path fill="#000" d="{"".join(runs)}"/></svg>')


_CSS = """
*{box-sizing:border-box}
body{margin:0;padding:8mm;font-family:"DejaVu Sans","PT Sans","Noto Sans",Arial,sans-serif;color:#000;background:#fff}
h1{font-size:14pt;margin:0 0 4mm}
.sheet{display:grid;grid-template-columns:1fr 1fr;gap:0;max-width:194mm}
.card{border:1px dashed #888;padding:4mm;height:66mm;overflow:hidden;display:flex;flex-direction:column;
  break-inside:avoid;page-break-inside:avoid}
.top{display:flex;justify-content:space-between;font-size:8pt;color:#444;text-transform:uppercase;letter-spacing:.04em}
.name{font-size:12pt;font-weight:bold;margin:1mm 0 0;overflow-wrap:anywhere}
.note{font-size:8pt;color:#333;margin:.5mm 0 0}
.middle{display:flex;gap:4mm;align-items:center;margin:2mm 0;flex:1}
.qr{width:30mm;height:30mm;flex:none}
.label{font-size:7pt;color:#444;text-transform:uppercase;letter-spacing:.04em}
.code{font-family:"DejaVu Sans Mono",Consolas,"Courier New",monospace;font-size:16pt;font-weight:bold;
  letter-spacing:.02em;white-space:nowrap}
.how{font-size:7pt;line-height:1.25;margin:0;overflow-wrap:anywhere}
.how a{color:inherit;text-decoration:none}
@page{size:A4 portrait;margin:10mm}
@media print{body{padding:0}h1{font-size:11pt;margin:0 0 3mm}.sheet{max-width:none}}
"""


def sheet_css() -> str:
    """The sheet's stylesheet (for a page whose Content-Security-Policy forbids inline styles)."""
    return _CSS


def class_sheet_html(title: str, entries: list[SheetEntry], *, homeserver: str, language: str = "ru",
                     stylesheet: str | None = None) -> str:
    """The class sheet as a complete standalone HTML page (a ``str`` to be served as UTF-8).

    ``title`` (the class, e.g. ``"7А"``) is the page's ``<title>`` and heading; each entry
    becomes one ``<section class="card">`` with its name, translated role, note, code, an
    inline ``<svg>`` QR code of its ``url`` and the instructions naming ``homeserver``.
    All text is HTML-escaped; the page has no scripts and loads nothing (the only
    addresses in it are the entries' own URLs). Print CSS: A4 pages, two columns of
    cut-out cards that never break across pages. ``stylesheet``: the URL of :func:`sheet_css`
    served apart (the web console's CSP allows no inline style), instead of an inline ``<style>``.

    Raises ValueError for an unsupported ``language``, an empty ``entries`` list or
    ``homeserver``, an entry without a name or a code, or a ``url`` that is not http(s).
    """
    _check(title, entries, homeserver, language)
    esc = html.escape
    code_label = esc(gettext_("Personal code", language))
    cards = []
    for entry in entries:
        scan, element = _instructions(entry, homeserver, language)
        # The URL inside the first line becomes a link; escape the pieces around it.
        before, _sep, after = scan.partition(entry.url)
        link = f'<a href="{esc(entry.url)}">{esc(entry.url)}</a>' if _sep else ""
        note = f'<p class="note">{esc(entry.note)}</p>' if entry.note else ""
        qr_label = gettext_("QR code of the registration page for {name}", language).format(name=entry.name)
        cards.append(
            '<section class="card">'
            f'<div class="top"><span>{esc(role_label(entry.role, language))}</span><span>{esc(title)}</span></div>'
            f'<p class="name">{esc(entry.name)}</p>{note}'
            f'<div class="middle">{qr_svg(entry.url, label=qr_label)}'
            f'<div><div class="label">{code_label}</div><div class="code">{esc(entry.code)}</div></div></div>'
            f'<p class="how">{esc(before)}{link}{esc(after)}<br>{esc(element)}</p>'
            '</section>')
    heading = gettext_("{title}: personal registration codes", language).format(title=title)
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{esc(language)}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{esc(title)}</title>\n"
        + (f'<link rel="stylesheet" href="{esc(stylesheet)}">' if stylesheet else f"<style>{_CSS}</style>")
        + "\n</head>\n<body>\n"
        f"<h1>{esc(heading)}</h1>\n"
        f'<main class="sheet">\n' + "\n".join(cards) + "\n</main>\n</body>\n</html>\n")


# --- PDF -------------------------------------------------------------------------------

#: The font files the PDF embeds, in matplotlib's mpl-data/fonts/ttf.
_FONT_FILES = {
    "Parta-DejaVuSans": "DejaVuSans.ttf",
    "Parta-DejaVuSans-Bold": "DejaVuSans-Bold.ttf",
    "Parta-DejaVuSansMono-Bold": "DejaVuSansMono-Bold.ttf",
}
_REGULAR, _BOLD, _MONO = "Parta-DejaVuSans", "Parta-DejaVuSans-Bold", "Parta-DejaVuSansMono-Bold"


def font_dir() -> Path:
    """The folder of the DejaVu TTF files that the PDF embeds (installed with matplotlib).

    Found through the package's import spec, so matplotlib (and numpy) are not imported.
    Raises RuntimeError when matplotlib is not installed or lacks the fonts.
    """
    spec = importlib.util.find_spec("matplotlib")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        folder = Path(location) / "mpl-data" / "fonts" / "ttf"
        if all((folder / name).is_file() for name in _FONT_FILES.values()):
            return folder
    raise RuntimeError(
        "DejaVu fonts not found: the PDF class sheet needs the matplotlib package "
        "(it ships DejaVu Sans in mpl-data/fonts/ttf); reinstall Parta's dependencies")


@functools.cache
def _register_fonts() -> None:
    """Register the embedded fonts with reportlab once per process."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    folder = font_dir()
    for name, filename in _FONT_FILES.items():
        pdfmetrics.registerFont(TTFont(name, str(folder / filename)))


def _qr_image(data: str, scale: int = 8):
    """The QR code of ``data`` as a black-and-white PIL image, ``scale`` pixels a module."""
    from PIL import Image

    matrix = _qr_matrix(data)
    size = len(matrix)
    img = Image.new("L", (size, size), 255)
    img.putdata([0 if dark else 255 for row in matrix for dark in row])
    return img.resize((size * scale, size * scale), Image.Resampling.NEAREST)


def _wrap(text: str, font: str, size: float, width: float) -> list[str]:
    """``text`` broken into lines no wider than ``width`` points.

    Breaks at spaces; a word wider than a line (a long URL) is broken after '/', '?',
    '&', '=', '-' where possible, else between any two characters.
    """
    from reportlab.pdfbase.pdfmetrics import stringWidth

    def fits(s: str) -> bool:
        return stringWidth(s, font, size) <= width

    lines: list[str] = []
    line = ""
    for word in text.split():
        candidate = f"{line} {word}" if line else word
        if fits(candidate):
            line = candidate
            continue
        if line:
            lines.append(line)
            line = ""
        while not fits(word):  # break an over-long word
            cut = len(word) - 1
            while cut > 1 and not fits(word[:cut]):
                cut -= 1
            nicer = max((word.rfind(ch, 0, cut) for ch in "/?&=-"), default=-1)
            if nicer >= cut // 2:
                cut = nicer + 1
            lines.append(word[:cut])
            word = word[cut:]
        line = word
    if line:
        lines.append(line)
    return lines


def _fit(text: str, font: str, sizes: tuple[float, ...], width: float, max_lines: int) -> tuple[float, list[str]]:
    """The largest of ``sizes`` at which ``text`` wraps into ``max_lines`` lines of ``width``.

    Returns (size, lines); when even the smallest size needs more lines, the lines are
    cut at ``max_lines`` and the last one ends with '…'.
    """
    from reportlab.pdfbase.pdfmetrics import stringWidth

    for size in sizes:
        lines = _wrap(text, font, size, width)
        if len(lines) <= max_lines:
            return size, lines
    lines = lines[:max_lines]
    last = lines[-1]
    while last and stringWidth(last + "…", font, size) > width:
        last = last[:-1]
    lines[-1] = last.rstrip() + "…"
    return size, lines


def class_sheet_pdf(title: str, entries: list[SheetEntry], *, homeserver: str, language: str = "ru") -> bytes:
    """The class sheet as a PDF document (``bytes`` starting with ``%PDF``).

    A4 portrait, :data:`CARDS_PER_PAGE` (2 x 4) cards a page in the entries' order, so
    ``ceil(len(entries) / 8)`` pages, each headed by ``title`` and the page number.
    A card is a dashed cut-out box with the translated role and ``title``, the name
    (bold, wrapped), the note, the QR code of ``url`` (a lossless image, 8 pixels a
    module, quiet zone included), the code in large DejaVu Sans Mono Bold letters (shrunk
    to fit the card) and the instructions naming ``url`` (also a link) and ``homeserver``.
    Text is real text in embedded DejaVu Sans subsets (searchable, copyable, Cyrillic).
    The output is reproducible: the same arguments give the same bytes.

    Raises ValueError as :func:`class_sheet_html` does, and RuntimeError when the fonts
    cannot be found (see :func:`font_dir`).
    """
    _check(title, entries, homeserver, language)
    _register_fonts()
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfbase.pdfmetrics import stringWidth
    from reportlab.pdfgen.canvas import Canvas

    page_w, page_h = A4
    margin_x, margin_top, margin_bottom = 8 * mm, 14 * mm, 8 * mm
    card_w = (page_w - 2 * margin_x) / COLUMNS
    card_h = (page_h - margin_top - margin_bottom) / ROWS
    pad = 4 * mm
    inner_w = card_w - 2 * pad
    qr_size = 30 * mm
    pages = math.ceil(len(entries) / CARDS_PER_PAGE)
    code_label = gettext_("Personal code", language)
    heading = gettext_("{title}: personal registration codes", language).format(title=title)

    buf = io.BytesIO()
    canvas = Canvas(buf, pagesize=A4, invariant=1, lang=language, pageCompression=1)
    canvas.setTitle(heading)
    canvas.setAuthor("Parta")
    canvas.setSubject(gettext_("Personal registration codes", language))

    def text(x: float, y: float, s: str, font: str, size: float, gray: float = 0.0) -> None:
        canvas.setFillGray(gray)
        canvas.setFont(font, size)
        canvas.drawString(x, y, s)

    for page in range(pages):
        if page:
            canvas.showPage()
        page_label = gettext_("page {page} of {pages}", language).format(page=page + 1, pages=pages)
        text(margin_x, page_h - 9 * mm, heading, _BOLD, 11)
        canvas.setFont(_REGULAR, 8)
        canvas.setFillGray(0.3)
        canvas.drawRightString(page_w - margin_x, page_h - 9 * mm, page_label)
        for slot, entry in enumerate(entries[page * CARDS_PER_PAGE:(page + 1) * CARDS_PER_PAGE]):
            col, row = slot % COLUMNS, slot // COLUMNS
            left = margin_x + col * card_w
            top = page_h - margin_top - row * card_h
            # cut lines
            canvas.setStrokeGray(0.55)
            canvas.setLineWidth(0.5)
            canvas.setDash(3, 2)
            canvas.rect(left, top - card_h, card_w, card_h, stroke=1, fill=0)
            canvas.setDash()
            x = left + pad
            y = top - pad - 7
            # role and class
            text(x, y, role_label(entry.role, language).upper(), _REGULAR, 7.5, 0.3)
            canvas.setFont(_REGULAR, 7.5)
            canvas.drawRightString(left + card_w - pad, y, title)
            # name (at most 2 lines) and note (1 line), in smaller letters when long
            y -= 14
            size, lines = _fit(entry.name, _BOLD, (12, 11, 10, 9, 8), inner_w, 2)
            for line in lines:
                text(x, y, line, _BOLD, size)
                y -= size + 2
            if entry.note:
                size, lines = _fit(entry.note, _REGULAR, (8, 7.5, 7, 6.5, 6), inner_w, 1)
                text(x, y + 3, lines[0], _REGULAR, size, 0.2)
            # QR code and the code, at the same place on every card (the QR image has its
            # white quiet zone, which keeps it clear of the text above)
            qr_top = top - pad - 50
            canvas.drawImage(ImageReader(_qr_image(entry.url)), x - 2, qr_top - qr_size, qr_size, qr_size)
            canvas.linkURL(entry.url, (x - 2, qr_top - qr_size, x - 2 + qr_size, qr_top))
            code_x = x + qr_size + 2 * mm
            code_w = left + card_w - pad - code_x
            code_size = 18.0
            while code_size > 8 and stringWidth(entry.code, _MONO, code_size) > code_w:
                code_size -= 0.5
            mid = qr_top - qr_size / 2
            text(code_x, mid + code_size * 0.5 + 4, code_label.upper(), _REGULAR, 7, 0.3)
            code_lines = _wrap(entry.code, _MONO, code_size, code_w)
            for i, line in enumerate(code_lines):
                text(code_x, mid - code_size * 0.35 - i * code_size * 1.15, line, _MONO, code_size)
            # instructions
            # instructions: smaller letters for a long address rather than a cut one
            y = qr_top - qr_size - 9
            room = y - (top - card_h + pad)
            scan, element = _instructions(entry, homeserver, language)
            for size in (7.5, 7.0, 6.5, 6.0, 5.5, 5.0):
                lines = _wrap(scan, _REGULAR, size, inner_w) + _wrap(element, _REGULAR, size, inner_w)
                if (len(lines) - 1) * size * 1.2 <= room:
                    break
            for line in lines:
                text(x, y, line, _REGULAR, size)
                y -= size * 1.2
    canvas.save()
    return buf.getvalue()
