"""Class sheets of personal registration codes: the HTML page and the PDF.

Each card must carry the person's name (escaped in HTML), the code, a QR code that reads
back as the card's own registration address, and the instructions, in Russian or English.
The QR codes are decoded with zxing-cpp (a self-contained wheel of the ``test`` extra);
the PDF's text is read back with pypdf.
"""

from __future__ import annotations

import html
import io
import math
import re

import pytest
from PIL import Image, ImageDraw

from spaces_provisioner.web.sheets import CARDS_PER_PAGE, SheetEntry, class_sheet_html, class_sheet_pdf, font_dir

pypdf = pytest.importorskip("pypdf")

HOMESERVER = "school.example"
EVIL = "<script>alert('x')</script> & Co"

ENTRIES = [
    SheetEntry("Иванов Иван Иванович", "student", "K7MQ-3XHE-P9TW",
               "https://school.example/register?code=K7MQ-3XHE-P9TW"),
    SheetEntry("Иванова Мария Петровна", "parent", "A2BC-D3EF-G4HJ",
               "https://school.example/register?code=A2BC-D3EF-G4HJ&lang=ru", note="родитель: Иванов Иван"),
    SheetEntry(EVIL, "teacher", "ZZ9Q-8WXY-7V6U", "https://school.example/register?code=ZZ9Q-8WXY-7V6U"),
    SheetEntry("Константинопольская Екатерина-Мария Вячеславовна", "student", "M4NP-5QRS-6TUV",
               "https://school.example/register?code=M4NP-5QRS-6TUV"),
]


def many(n: int) -> list[SheetEntry]:
    """``n`` distinct entries with Cyrillic names."""
    return [SheetEntry(f"Ученик Номер{i:02d}", "student", f"CODE-{i:04d}-XYZW",
                       f"https://school.example/register?code=CODE-{i:04d}-XYZW") for i in range(n)]


def decode_qr(image: Image.Image) -> list[str]:
    """The texts of the QR codes zxing-cpp finds in ``image``."""
    zxingcpp = pytest.importorskip("zxingcpp")
    return [b.text for b in zxingcpp.read_barcodes(image)]


def pdf_text(data: bytes) -> list[str]:
    """Each page's extracted text."""
    return [page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages]


def squeeze(text: str) -> str:
    """``text`` without whitespace (a wrapped address joined again)."""
    return re.sub(r"\s+", "", text)


# --- HTML ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def page_ru() -> str:
    return class_sheet_html("7А <b>", ENTRIES, homeserver=HOMESERVER)


def test_html_is_a_standalone_utf8_page(page_ru):
    assert page_ru.startswith("<!DOCTYPE html>")
    assert '<html lang="ru">' in page_ru
    assert '<meta charset="utf-8">' in page_ru
    assert "<title>7А &lt;b&gt;</title>" in page_ru
    assert page_ru.rstrip().endswith("</html>")
    css = squeeze(page_ru)
    assert "@page{" in css and "break-inside:avoid" in css


def test_html_escapes_every_name(page_ru):
    assert "<script" not in page_ru.lower()
    assert html.escape(EVIL) in page_ru
    for entry in ENTRIES:
        assert html.escape(entry.name) in page_ru
    assert html.escape("родитель: Иванов Иван") in page_ru
    assert "7А <b>" not in page_ru


def test_html_has_each_code_and_one_svg_per_entry(page_ru):
    for entry in ENTRIES:
        assert f'<div class="code">{entry.code}</div>' in page_ru
    assert page_ru.count("<svg") == len(ENTRIES)
    assert page_ru.count('<section class="card">') == len(ENTRIES)


def test_html_loads_nothing_and_names_only_the_entries_urls(page_ru):
    lowered = page_ru.lower()
    for forbidden in ("<script", "<link", "<img", "<iframe", "src=", "url(", "@import", "javascript:"):
        assert forbidden not in lowered
    found = {html.unescape(u) for u in re.findall(r"https?://[^\s\"'<>]+", page_ru)}
    assert found == {e.url for e in ENTRIES}


def test_html_instructions_in_russian(page_ru):
    assert page_ru.count("Отсканируйте QR-код или откройте") == len(ENTRIES)
    assert page_ru.count(f"укажите сервер {HOMESERVER} и этот код") == len(ENTRIES)
    for label in ("Ученик", "Родитель", "Учитель", "Личный код"):
        assert label in page_ru


def test_html_in_english():
    page = class_sheet_html("7A", ENTRIES, homeserver=HOMESERVER, language="en")
    assert '<html lang="en">' in page
    assert page.count("Scan the QR code or open") == len(ENTRIES)
    assert page.count(f"enter the server {HOMESERVER} and this code") == len(ENTRIES)
    for label in ("Student", "Parent", "Teacher", "Personal code"):
        assert label in page
    assert "Отсканируйте" not in page and "Ученик" not in page


def rasterize_svg(svg: str, scale: int = 8) -> Image.Image:
    """Draw one of the sheet's QR ``<svg>`` elements (unit-rectangle runs) as an image."""
    size = int(re.search(r'viewBox="0 0 (\d+) \1"', svg).group(1))
    img = Image.new("L", (size * scale, size * scale), 255)
    draw = ImageDraw.Draw(img)
    path = re.search(r'<path[^>]* d="([^"]*)"', svg).group(1)
    for x, y, w in re.findall(r"M(\d+) (\d+)h(\d+)v1h-\3z", path):
        x, y, w = int(x), int(y), int(w)
        draw.rectangle((x * scale, y * scale, (x + w) * scale - 1, (y + 1) * scale - 1), fill=0)
    return img


def test_html_qr_codes_read_back_as_the_urls(page_ru):
    svgs = re.findall(r"<svg.*?</svg>", page_ru, re.DOTALL)
    assert [decode_qr(rasterize_svg(svg)) for svg in svgs] == [[e.url] for e in ENTRIES]


# --- PDF -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pdf_ru() -> bytes:
    return class_sheet_pdf("7А", ENTRIES, homeserver=HOMESERVER)


def test_pdf_fonts_come_from_an_installed_package():
    assert (font_dir() / "DejaVuSans.ttf").is_file()


def test_pdf_is_a_pdf_with_the_cyrillic_text(pdf_ru):
    assert pdf_ru.startswith(b"%PDF-")
    (text,) = pdf_text(pdf_ru)
    assert "7А: личные коды для регистрации" in text
    for entry in ENTRIES:
        assert entry.code in text
        assert squeeze(entry.url) in squeeze(text)
    assert "Иванов Иван Иванович" in text
    assert "родитель: Иванов Иван" in text
    assert EVIL in text  # plain text in a PDF: nothing to escape
    assert squeeze("Константинопольская Екатерина-Мария Вячеславовна") in squeeze(text)
    for label in ("УЧЕНИК", "РОДИТЕЛЬ", "УЧИТЕЛЬ", "ЛИЧНЫЙ КОД"):
        assert label in text
    assert text.count("Отсканируйте QR-код или откройте") == len(ENTRIES)
    assert squeeze(f"«Создать учётную запись», укажите сервер {HOMESERVER}") in squeeze(text)


def test_pdf_embeds_its_fonts(pdf_ru):
    reader = pypdf.PdfReader(io.BytesIO(pdf_ru))
    fonts = reader.pages[0]["/Resources"]["/Font"]
    embedded = []
    for ref in fonts.values():
        font = ref.get_object()
        descriptor = font["/DescendantFonts"][0].get_object()["/FontDescriptor"] \
            if "/DescendantFonts" in font else font.get("/FontDescriptor")
        if descriptor is not None and "/FontFile2" in descriptor.get_object():
            embedded.append(str(font["/BaseFont"]))
    assert embedded and all("DejaVuSans" in name for name in embedded), embedded


@pytest.mark.parametrize("n", [1, CARDS_PER_PAGE, CARDS_PER_PAGE + 1, 2 * CARDS_PER_PAGE + 1])
def test_pdf_has_one_page_per_eight_cards(n):
    entries = many(n)
    pages = pdf_text(class_sheet_pdf("5Б", entries, homeserver=HOMESERVER))
    assert CARDS_PER_PAGE == 8
    assert len(pages) == math.ceil(n / CARDS_PER_PAGE)
    for number, text in enumerate(pages):
        assert f"страница {number + 1} из {len(pages)}" in text
        on_page = entries[number * CARDS_PER_PAGE:(number + 1) * CARDS_PER_PAGE]
        for entry in on_page:
            assert entry.name in text and entry.code in text
        assert set(re.findall(r"Номер\d\d", text)) == {e.name.split()[1] for e in on_page}
        assert text.count("Ученик Номер") == len(on_page)


def test_pdf_qr_codes_read_back_as_the_urls():
    entries = many(CARDS_PER_PAGE + 3)
    reader = pypdf.PdfReader(io.BytesIO(class_sheet_pdf("5Б", entries, homeserver=HOMESERVER)))
    for number, page in enumerate(reader.pages):
        decoded = sorted(text for image in page.images for text in decode_qr(image.image))
        expected = sorted(e.url for e in entries[number * CARDS_PER_PAGE:(number + 1) * CARDS_PER_PAGE])
        assert decoded == expected


def test_pdf_in_english():
    (text,) = pdf_text(class_sheet_pdf("7A", ENTRIES, homeserver=HOMESERVER, language="en"))
    assert "7A: personal registration codes" in text
    assert "page 1 of 1" in text
    for label in ("STUDENT", "PARENT", "TEACHER", "PERSONAL CODE"):
        assert label in text
    assert text.count("Scan the QR code or open") == len(ENTRIES)
    assert squeeze(f"“Create account”, enter the server {HOMESERVER} and this code") in squeeze(text)
    assert "Отсканируйте" not in text


def test_pdf_keeps_a_long_address_whole():
    url = "https://registration.school-number-1234.region.example.org/register?code=LONG-CODE-ABCD&lang=ru&from=sheet"
    homeserver = "matrix.school-number-1234.region.example.org"
    entry = SheetEntry("Очень Длинное Имя Для Проверки Переноса Строк", "parent", "LONG-CODE-ABCD", url)
    data = class_sheet_pdf("11А", [entry], homeserver=homeserver)
    (text,) = pdf_text(data)
    assert squeeze(url) in squeeze(text)
    assert homeserver in squeeze(text)
    (image,) = pypdf.PdfReader(io.BytesIO(data)).pages[0].images
    assert decode_qr(image.image) == [url]


def test_pdf_is_reproducible(pdf_ru):
    assert class_sheet_pdf("7А", ENTRIES, homeserver=HOMESERVER) == pdf_ru


def test_unknown_role_is_shown_as_it_is():
    entry = SheetEntry("Сидоров Сидор", "librarian", "LIBR-0000-AAAA", "https://school.example/r?c=LIBR-0000-AAAA")
    assert "<span>librarian</span>" in class_sheet_html("7А", [entry], homeserver=HOMESERVER)


# --- Errors ----------------------------------------------------------------------------


@pytest.mark.parametrize("render", [class_sheet_html, class_sheet_pdf])
def test_bad_sheets_are_refused(render):
    good = ENTRIES[0]
    with pytest.raises(ValueError, match="unsupported language"):
        render("7А", [good], homeserver=HOMESERVER, language="de")
    with pytest.raises(ValueError, match="нет ни одного человека"):
        render("7А", [], homeserver=HOMESERVER)
    with pytest.raises(ValueError, match="has no people"):
        render("7А", [], homeserver=HOMESERVER, language="en")
    with pytest.raises(ValueError, match="homeserver"):
        render("7А", [good], homeserver=" ", language="en")
    with pytest.raises(ValueError, match="lacks a name or a code"):
        render("7А", [SheetEntry("", "student", "X", good.url)], homeserver=HOMESERVER, language="en")
    with pytest.raises(ValueError, match="lacks a name or a code"):
        render("7А", [SheetEntry("Имя", "student", " ", good.url)], homeserver=HOMESERVER, language="en")
    for url in ("javascript:alert(1)", "ftp://school.example/x", "https://school.example/a b", ""):
        with pytest.raises(ValueError, match="not an http"):
            render("7А", [SheetEntry("Имя", "student", "X", url)], homeserver=HOMESERVER, language="en")


def test_pdf_shrinks_a_long_name_rather_than_cutting_it():
    name = "Очень Длинное Имя Для Проверки Переноса Строк Ещё Длиннее И Длиннее"
    note = "родитель: Константинопольская Екатерина-Мария Вячеславовна"
    entry = SheetEntry(name, "parent", "LONG-CODE-ABCD", "https://school.example/r?c=LONG-CODE-ABCD", note=note)
    (text,) = pdf_text(class_sheet_pdf("11А", [entry], homeserver=HOMESERVER))
    assert squeeze(name) in squeeze(text)
    assert squeeze(note) in squeeze(text)
