"""Upload rules (policies.media over policies/data/media.yaml): per-role limits, quotas, file types.

Pure: no Synapse, no network. The bytes below are the first bytes of real formats (a PE program's
``MZ``, an ELF header, a PDF, a PNG...).
"""

from __future__ import annotations

import pytest

from policies.capabilities import Account, Membership
from policies.media import (
    OUTSIDER,
    MediaRules,
    Quota,
    ZipContents,
    clamd_address,
    declared_content_types,
    default_media_rules,
    megabytes,
    ole_clsid,
    ole_root_entry_offset,
    parse_period,
    parse_size,
    quota_exceeded,
    text_type,
    virus_found,
)
from policies.model import Role

from ...files import MSI_CLSID, WORD_CLSID, compound_file

R = default_media_rules()
MB = 1024 ** 2


def account(*roles: tuple[str, Role, bool]) -> Account:
    return Account("@p:school.test", {org: Membership(org=org, role=role, confirmed=confirmed)
                                      for org, role, confirmed in roles})


PUPIL = account(("a", Role.STUDENT, False))
PARENT = account(("a", Role.PARENT, False))
TEACHER = account(("a", Role.TEACHER, True))
UNCONFIRMED = account(("a", Role.TEACHER, False))
OUTSIDER_ACCOUNT = Account("@x:school.test")


@pytest.mark.parametrize(("text", "size"), [(0, 0), (512, 512), ("20M", 20 * MB), ("1G", 1024 ** 3),
                                            ("100k", 100 * 1024), ("7 MB", 7 * MB)])
def test_sizes(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("bad", ["", "20X", "-1", "M", True, "1.5M", None])
def test_bad_sizes(bad):
    with pytest.raises(ValueError):
        parse_size(bad)


@pytest.mark.parametrize(("text", "ms"), [("1h", 3_600_000), ("1d", 86_400_000), ("30m", 1_800_000),
                                          ("2w", 1_209_600_000)])
def test_periods(text, ms):
    assert parse_period(text) == ms


@pytest.mark.parametrize("bad", ["", "0h", "1y", "h", "10"])
def test_bad_periods(bad):
    with pytest.raises(ValueError):
        parse_period(bad)


def test_school_defaults_pupils_and_parents_smaller_than_teachers():
    pupil, parent, teacher = R.limits_for(PUPIL), R.limits_for(PARENT), R.limits_for(TEACHER)
    outsider = R.limits_for(OUTSIDER_ACCOUNT)
    assert outsider.role == OUTSIDER
    assert outsider.max_size < pupil.max_size <= teacher.max_size
    assert parent.max_size < teacher.max_size
    assert teacher.roomier_than(pupil) and pupil.roomier_than(outsider)
    assert R.limits_for(UNCONFIRMED).max_size == pupil.max_size  # not confirmed: no teacher's room yet
    assert R.largest_file() == teacher.max_size
    for lim in (pupil, parent, teacher, outsider):
        assert lim.quotas == tuple(sorted(lim.quotas)) and lim.quotas, lim


def test_several_roles_give_the_roomiest():
    both = account(("a", Role.PARENT, False), ("b", Role.TEACHER, True))
    assert R.limits_for(both) == R.limits_for(TEACHER)


def test_size_check_and_message():
    pupil = R.limits_for(PUPIL)
    assert pupil.check_size(pupil.max_size)
    refused = pupil.check_size(25 * MB)
    assert not refused and refused.reason == "upload_too_large"
    assert refused.message("ru") == "Файл слишком большой (25 МБ): вы можете загружать файлы до 20 МБ"
    assert refused.message("en") == "The file is too large (25 MB): you may upload files of up to 20 MB"
    assert R.limits_for(TEACHER).check_size(25 * MB)


def test_quota_message():
    d = quota_exceeded(Quota(86_400_000, 300 * MB))
    assert d.reason == "upload_quota_exceeded"
    assert d.message("ru") == ("Вы уже загрузили столько, сколько можно за это время (300 МБ за сутки); "
                               "попробуйте позже")
    assert "per hour" in quota_exceeded(Quota(3_600_000, MB)).message("en")
    assert "6 ч" in quota_exceeded(Quota(6 * 3_600_000, MB)).message("ru")


def test_megabytes():
    assert [megabytes(n) for n in (0, 1, 20 * MB, int(2.5 * MB), MB + 1)] == ["0", "0.1", "20", "2.5", "1"]


PE = b"MZ\x90\x00" + b"\x00" * 56 + b"\x80\x00\x00\x00" + b"\x00" * 64 + b"PE\x00\x00"
ELF = b"\x7fELF\x02\x01\x01" + b"\x00" * 9
MACHO = b"\xcf\xfa\xed\xfe" + b"\x00" * 28
SCRIPT = b"#!/bin/sh\nrm -rf ~\n"


@pytest.mark.parametrize(("head", "detected", "mime"), [
    (PE, "application/x-msdownload", "application/x-msdownload"),
    (PE, None, "application/x-msdownload"),
    (ELF, None, "application/x-executable"),
    (MACHO, None, "application/x-mach-binary"),
    (SCRIPT, None, "application/x-shellscript"),
    (b"%PDF-1.7\n", "application/pdf", "application/pdf"),
    ("Домашнее задание: §12".encode(), None, "text/plain"),
    ("Домашнее задание".encode("cp1251"), None, "text/plain"),
    (b"\xef\xbb\xbfname;class\n", None, "text/plain"),
    (b"", None, "text/plain"),
    (b"  <!DOCTYPE html><html><body>", None, "text/html"),
    (b"<div><script>alert(1)</script>", None, "text/html"),
    (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>', None, "image/svg+xml"),
    (b'<?xml version="1.0"?><note/>', None, "text/xml"),
    (b"\x00\x01\x02binary", None, None),
])
def test_type_of(head, detected, mime):
    assert R.type_of(head, detected) == mime


@pytest.mark.parametrize("mime", ["application/pdf", "image/png", "image/jpeg", "text/plain", "audio/ogg",
                                  "video/mp4", "application/zip",
                                  "application/vnd.openxmlformats-officedocument.wordprocessingml.document"])
def test_kept(mime):
    assert R.may_keep(mime)


@pytest.mark.parametrize(("mime", "reason"), [
    ("application/x-msdownload", "file_is_program"), ("application/x-executable", "file_is_program"),
    ("application/x-shellscript", "file_is_program"), ("application/x-deb", "file_is_program"),
    ("text/html", "file_type_refused"), ("image/svg+xml", "file_type_refused"),
    ("application/x-sqlite3", "file_type_refused"), (None, "file_type_unknown"),
])
def test_refused(mime, reason):
    d = R.may_keep(mime)
    assert not d and d.reason == reason and d.message("ru") and d.message("en")


def test_program_message():
    assert R.may_keep("application/x-msdownload").message("ru") == "Программы и скрипты здесь пересылать нельзя"
    assert virus_found("Eicar-Test-Signature").message("ru") == ("В файле найден вирус (Eicar-Test-Signature), "
                                                                 "файл не сохранён")


def test_text_type_binary():
    assert text_type(b"abc\x00def") is None
    assert text_type(b"line\r\n\ttabbed\x0c") == "text/plain"


def _data(**over) -> dict:
    data = {"limits": {"outsider": {"max_size": "1M"}, "student": {"max_size": "2M", "quotas": [
        {"max": "10M", "per": "1d"}, {"max": "5M", "per": "1h"}]}},
            "allowed_types": {"images": ["image/png"]}, "executable_types": ["application/x-msdownload"],
            "executable_prefixes": {"4d5a": "application/x-msdownload"}}
    data.update(over)
    return data


def test_data_read():
    rules = MediaRules(_data())
    assert rules.limits["student"].quotas == (Quota(3_600_000, 5 * MB), Quota(86_400_000, 10 * MB))
    assert rules.limits["outsider"].quotas == ()
    assert rules.may_keep(None).reason == "file_type_unknown"
    assert MediaRules(_data(unrecognised="accept")).may_keep(None)  # e.g. encrypted attachments


@pytest.mark.parametrize(("over", "needle"), [
    ({"limits": {"student": {"max_size": "1M"}}}, "outsider"),
    ({"limits": {"outsider": {"max_size": "lots"}}}, "limits.outsider"),
    ({"limits": {"outsider": {"max_size": "1M", "quotas": [{"max": "1M", "per": "1y"}]}}}, "limits.outsider"),
    ({"unrecognised": "maybe"}, "unrecognised"),
])
def test_bad_data(over, needle):
    with pytest.raises(ValueError, match=needle):
        MediaRules(_data(**over))


@pytest.mark.parametrize(("text", "read"), [
    ("unix:/run/clamav/clamd.ctl", ("unix", "/run/clamav/clamd.ctl", 0)), ("/tmp/c.sock", ("unix", "/tmp/c.sock", 0)),
    ("tcp://127.0.0.1:3310", ("tcp", "127.0.0.1", 3310)), ("tcp:[::1]:3310", ("tcp", "::1", 3310))])
def test_clamd_addresses(text, read):
    assert clamd_address(text) == read


@pytest.mark.parametrize("bad", ["clamd.ctl", "unix:", "tcp:localhost", "tcp:h:0", "http://x:1"])
def test_bad_clamd_addresses(bad):
    with pytest.raises(ValueError, match="clamd address"):
        clamd_address(bad)


@pytest.mark.parametrize(("clsid", "shift", "mime"), [(MSI_CLSID, 9, "application/x-msi"),
                                                      (MSI_CLSID, 12, "application/x-msi"),
                                                      (WORD_CLSID, 9, "application/x-ole-storage")])
def test_compound_files_by_their_root_clsid(clsid, shift, mime):
    data = compound_file(clsid, shift)
    offset = ole_root_entry_offset(data[:8192])
    assert offset == 2 << shift
    assert ole_clsid(data[offset:offset + 128]) == clsid
    assert R.type_of(data[:8192], None, data[offset:offset + 128]) == mime


def test_installer_refused_old_office_documents_kept():
    assert R.may_keep("application/x-msi").reason == "file_is_program"
    assert R.may_keep("application/x-ole-storage") and R.may_keep("application/msword")
    assert R.type_of(compound_file(MSI_CLSID), "application/msword", compound_file(MSI_CLSID)[1024:1152]) == (
        "application/x-msi")  # an installer is a program whatever else matched
    assert ole_root_entry_offset(b"%PDF") is None and ole_clsid(None) is None


# -- issue 11 attack F2: programs by what a ZIP holds, by name and claimed type; markup after a line of text

@pytest.mark.parametrize(("names", "types", "mime"), [
    (("AndroidManifest.xml", "classes.dex", "resources.arsc"), (), "application/vnd.android.package-archive"),
    (("classes.dex",), (), "application/vnd.android.package-archive"),
    (("META-INF/MANIFEST.MF", "Homework.class"), (), "application/java-archive"),
    (("meta-inf/manifest.mf",), (), "application/java-archive"),
    (("__main__.py", "lib/x.py"), (), "application/x-python-zipapp"),
    (("[Content_Types].xml", "word/document.xml", "word/vbaProject.bin"), (), "application/vnd.ms-office.vbaProject"),
    (("[Content_Types].xml", "xl/workbook.xml"), ("application/vnd.ms-excel.sheet.macroEnabled.main+xml",),
     "application/vnd.ms-office.vbaProject"),
    # archives that only hold sources or documents stay archives
    (("app/src/main/AndroidManifest.xml", "app/src/main/java/Main.java"), (), None),
    (("project/__main__.py", "homework.exe"), (), None),
    (("mimetype", "META-INF/manifest.xml", "content.xml"), (), None),
    (("[Content_Types].xml", "word/document.xml"),
     ("application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",), None),
])
def test_zip_archives_that_are_programs(names, types, mime):
    archive = ZipContents(names, types)
    assert R.archive_program(archive) == mime
    assert R.type_of(b"PK\x03\x04", "application/zip", archive=archive) == (mime or "application/zip")


def test_macros_refused_with_their_own_reason():
    d = R.may_keep("application/vnd.ms-office.vbaProject")
    assert not d and d.reason == "file_has_macros" and d.message("ru").startswith("Документы с макросами")
    assert not R.may_keep("application/vnd.android.package-archive")


def test_declared_content_types():
    xml = (b'<Types><Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/>'
           b"<Override PartName='/word/document.xml' ContentType='application/vnd.ms-word.document.macroEnabled"
           b".main+xml'/></Types>")
    assert declared_content_types(xml) == ("application/vnd.ms-office.vbaProject",
                                           "application/vnd.ms-word.document.macroEnabled.main+xml")


@pytest.mark.parametrize(("name", "declared", "reason"), [
    ("hw.apk", "application/vnd.android.package-archive", "file_is_program"),
    ("hw.jar", "application/java-archive", "file_is_program"),
    ("homework.bat", "application/x-bat", "file_is_program"),
    ("homework.bat", "text/plain", "file_is_program"),
    ("HOMEWORK.BAT", None, "file_is_program"),
    ("homework.bat. ", None, "file_is_program"),  # Windows drops trailing dots and spaces
    ("homework.hta", "application/hta", "file_is_program"),
    ("hw.vbs", None, "file_is_program"), ("hw.ps1", None, "file_is_program"),
    ("hw.desktop", None, "file_is_program"), ("hw.pyz", None, "file_is_program"),
    ("hw.js", None, "file_is_program"),
    ("notes.txt", "application/x-bat", "file_is_program"),  # the claimed type alone
    ("notes.txt", "APPLICATION/HTA; charset=utf-8", "file_is_program"),
    ("homework.docm", "application/vnd.ms-word.document.macroEnabled.12", "file_has_macros"),
    ("table.xlsm", None, "file_has_macros"), ("slides.pptm", None, "file_has_macros"),
    ("otvety.html", "text/html", "file_type_refused"), ("a.svg", "image/svg+xml", "file_type_refused"),
    (None, "text/html", "file_type_refused"),
])
def test_program_names_and_claimed_types_refused(name, declared, reason):
    d = R.may_keep_named(name, declared)
    assert not d and d.reason == reason


@pytest.mark.parametrize(("name", "declared"), [
    ("dz.txt", "text/plain"), ("spisok.csv", "text/csv"), ("referat.docx", None), ("table.xlsx", None),
    ("slides.pptx", None), ("lesson.pdf", "application/pdf"), ("photo.jpg", "image/jpeg"),
    ("zadacha.py", "text/x-python"),
    ("archive.zip", "application/zip"), ("file", "application/octet-stream"), ("", ""), (None, None),
    ("Отчёт за 1 четверть", None), ("v1.2", None),
])
def test_everyday_names_left_to_the_bytes(name, declared):
    assert R.may_keep_named(name, declared)


@pytest.mark.parametrize(("head", "mime"), [
    ("Ответы\n<html><body><form action='https://evil.example/steal'>".encode(), "text/html"),
    (b"Homework list\r\n<html><head><HTA:APPLICATION/><script language='VBScript'>", "text/html"),
    (b"notes\n\n<iframe src='https://evil.example'>", "text/html"),
    (b"notes\n<META HTTP-EQUIV='refresh' content='0;url=https://evil.example'>", "text/html"),
    (b"hi\n<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>", "image/svg+xml"),
    ("Задачи: 3 < 5, 7 > 2; ответ <b>верный</b>".encode(), "text/plain"),
    ("Фамилия;Имя\nИванов;Иван\n".encode("cp1251"), "text/plain"),
])
def test_markup_anywhere_in_the_first_bytes(head, mime):
    assert text_type(head) == mime
