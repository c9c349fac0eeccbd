"""Bytes of real file formats for the upload tests: programs, documents, pictures, the EICAR test file.

Each is made here from its format's specification (no sample files are shipped or downloaded).
"""

from __future__ import annotations

import struct
import zlib

#: The EICAR anti-virus test file (eicar.org): harmless text every scanner reports as a virus.
EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
#: A Windows program's first bytes: the DOS header ("MZ", e_lfanew at 0x3c) and the PE signature.
PE = b"MZ\x90\x00" + b"\x00" * 56 + b"\x80\x00\x00\x00" + b"\x00" * 64 + b"PE\x00\x00\x4c\x01" + b"\x00" * 200
#: A minimal PDF.
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
#: Root entry CLSIDs of a Windows Installer database and of a Word 97-2003 document.
MSI_CLSID = "000c1084-0000-0000-c000-000000000046"
WORD_CLSID = "00020906-0000-0000-c000-000000000046"


def png() -> bytes:
    """A real 1x1 PNG (signature, IHDR, IDAT, IEND with their CRCs)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b""))


def pdf_of(size: int) -> bytes:
    """A PDF of exactly ``size`` bytes (its content padded with a comment)."""
    return PDF + b"%" + b"0" * (size - len(PDF) - 2) + b"\n"


def compound_file(clsid: str, sector_shift: int = 9, first_dir_sector: int = 1) -> bytes:
    """An OLE2 compound file's header and root directory entry ([MS-CFB] 2.2, 2.6) with ``clsid``."""
    size = 1 << sector_shift
    header = bytearray(size)
    header[:8] = bytes.fromhex("d0cf11e0a1b11ae1")
    header[0x1E:0x20] = sector_shift.to_bytes(2, "little")
    header[0x30:0x34] = first_dir_sector.to_bytes(4, "little")
    root = bytearray(128)
    name = "Root Entry".encode("utf-16-le")
    root[:len(name)] = name
    a, b, c, d, e = clsid.split("-")
    root[0x50:0x60] = (bytes.fromhex(a)[::-1] + bytes.fromhex(b)[::-1] + bytes.fromhex(c)[::-1] + bytes.fromhex(d)
                       + bytes.fromhex(e))
    return bytes(header) + bytes(size * first_dir_sector) + bytes(root) + bytes(size - 128)


def zip_of(entries: dict[str, bytes | str]) -> bytes:
    """A ZIP archive (Python's zipfile, deflated) holding ``entries`` (path → content)."""
    import io
    import zipfile

    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries.items():
            z.writestr(name, data)
    return b.getvalue()


_WORD_MAIN = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
_WORD_MACRO_MAIN = "application/vnd.ms-word.document.macroEnabled.main+xml"


def word_document(*, macros: bool = False) -> bytes:
    """A Word document as ECMA-376 Part 2 packages it (``[Content_Types].xml``, ``_rels/.rels``,
    ``word/document.xml``); with ``macros`` a .docm: the macro-enabled main type and ``word/vbaProject.bin``
    (its content type ``application/vnd.ms-office.vbaProject``)."""
    types = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
             '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
             '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
             '<Default Extension="xml" ContentType="application/xml"/>'
             + ('<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/>' if macros else "")
             + f'<Override PartName="/word/document.xml" ContentType="{_WORD_MACRO_MAIN if macros else _WORD_MAIN}"/>'
             '</Types>')
    entries: dict[str, bytes | str] = {
        "[Content_Types].xml": types,
        "_rels/.rels": ('<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/'
                        'package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
                        'officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/>'
                        '</Relationships>'),
        "word/document.xml": ('<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlformats'
                              '.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>Контрольная работа</w:t></w:r>'
                              '</w:p></w:body></w:document>'),
    }
    if macros:
        entries["word/vbaProject.bin"] = bytes.fromhex("d0cf11e0a1b11ae1") + bytes(504)
    return zip_of(entries)


#: An Android app's entries (its manifest and compiled code), a Java program's, a Python zipapp's.
APK = {"AndroidManifest.xml": b"\x03\x00\x08\x00", "classes.dex": b"dex\n035\x00", "res/layout/main.xml": b""}
JAR = {"META-INF/MANIFEST.MF": "Manifest-Version: 1.0\r\nMain-Class: Homework\r\n",
       "Homework.class": b"\xca\xfe\xba\xbe"}
PYZ = {"__main__.py": "import os\nos.system('calc')\n"}
