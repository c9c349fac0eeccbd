"""The upload adapter without Synapse running: its config, the clamd client against a stand-in clamd
on a Unix socket (the protocol of clamd(8): ``zINSTREAM``, length-prefixed chunks), and the errors the
callbacks raise. Real uploads to a real Synapse with Debian's clamd: ``tests/integration/test_uploads.py``.
"""

from __future__ import annotations

import socket
import struct
import threading
from pathlib import Path
from unittest.mock import AsyncMock, Mock

import pytest
from synapse.module_api import NOT_SPAM, ModuleApi
from synapse.module_api.errors import ConfigError

from policies.capabilities import Account, Membership
from policies.model import Role

from synapse_module import clamd
from synapse_module.media_upload import MediaUpload, UploadConfig, UploadRefusal, check_upload_target

from ...files import APK, EICAR, JAR, PE, PYZ, word_document, zip_of

BOT, BRIDGE = "@parta:school.test", "@parta_journal:school.test"
PUPIL = Account("@pupil:school.test", {"a": Membership(org="a", role=Role.STUDENT)})
TEACHER = Account("@teacher:school.test", {"a": Membership(org="a", role=Role.TEACHER, confirmed=True)})
MB = 1024 ** 2


class FakeClamd(threading.Thread):
    """Answers each INSTREAM with ``FOUND`` when the stream holds EICAR, else ``OK`` (or ``reply``)."""

    def __init__(self, path: Path, reply: bytes | None = None):
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.bind(str(path))
        self.sock.listen()
        self.reply = reply
        self.streams: list[bytes] = []

    def run(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                f = conn.makefile("rb")
                assert f.read(10) == b"zINSTREAM\0"
                data = b""
                while (n := struct.unpack("!L", f.read(4))[0]) > 0:
                    data += f.read(n)
                self.streams.append(data)
                found = b"stream: Eicar-Test-Signature FOUND\0" if EICAR in data else b"stream: OK\0"
                conn.sendall(self.reply if self.reply is not None else found)


@pytest.fixture
def fake_clamd(tmp_path):
    server = FakeClamd(tmp_path / "clamd.sock")
    server.start()
    yield server, f"unix:{tmp_path / 'clamd.sock'}"
    server.sock.close()


def test_config():
    assert UploadConfig.parse(None) == UploadConfig()
    c = UploadConfig.parse({"clamd": "tcp:127.0.0.1:3310", "scan_unavailable": "accept", "scan_timeout": 5})
    assert (c.clamd, c.scan_unavailable, c.scan_timeout) == ("tcp:127.0.0.1:3310", "accept", 5.0)
    for bad, needle in (({"clamd": "clamd.sock"}, "media.clamd"), ({"scan_unavailable": "maybe"}, "refuse or accept"),
                        ({"scan_timeout": "soon"}, "seconds"), ({"clam": "/x"}, "unknown")):
        with pytest.raises(ConfigError, match=needle):
            UploadConfig.parse(bad)


def test_addresses():
    assert clamd.parse_address("unix:/run/clamav/clamd.ctl") == (socket.AF_UNIX, "/run/clamav/clamd.ctl")
    assert clamd.parse_address("/run/clamd.sock") == (socket.AF_UNIX, "/run/clamd.sock")
    assert clamd.parse_address("tcp://127.0.0.1:3310") == (socket.AF_INET, ("127.0.0.1", 3310))
    assert clamd.parse_address("tcp:[::1]:3310") == (socket.AF_INET6, ("::1", 3310))
    with pytest.raises(ValueError):
        clamd.parse_address("tcp:localhost")


def test_replies():
    assert clamd.parse_reply(b"stream: OK\0") is None
    assert clamd.parse_reply(b"stream: Win.Test.EICAR_HDB-1 FOUND\0") == "Win.Test.EICAR_HDB-1"
    with pytest.raises(clamd.ScanUnavailable, match="size limit"):
        clamd.parse_reply(b"INSTREAM size limit exceeded. ERROR\0")
    with pytest.raises(clamd.ScanUnavailable):
        clamd.parse_reply(b"")


def test_scan_streams_the_whole_file_in_chunks(tmp_path, fake_clamd):
    server, address = fake_clamd
    big = tmp_path / "big.bin"
    big.write_bytes(b"a" * (clamd.CHUNK * 2 + 5) + EICAR)
    clean = tmp_path / "clean.txt"
    clean.write_bytes(b"hello")
    assert clamd.scan_file(address, big, 5) == "Eicar-Test-Signature"
    assert clamd.scan_file(address, clean, 5) is None
    assert server.streams == [big.read_bytes(), b"hello"]


def test_scan_with_clamd_down(tmp_path):
    f = tmp_path / "f"
    f.write_bytes(b"x")
    with pytest.raises(clamd.ScanUnavailable, match="clamd at"):
        clamd.scan_file(f"unix:{tmp_path / 'none.sock'}", f, 1)


def upload(config: UploadConfig | None = None) -> MediaUpload:
    api = Mock(spec=ModuleApi)
    api.defer_to_thread = AsyncMock(side_effect=lambda fn, *a: fn(*a))
    look = Mock(person=AsyncMock(side_effect=lambda u: {PUPIL.user_id: PUPIL, TEACHER.user_id: TEACHER}.get(
        u, Account(u))))
    m = MediaUpload(api, look, unlimited=frozenset({BOT, BRIDGE}), config=config or UploadConfig(), language="ru")
    assert set(api.register_media_repository_callbacks.call_args.kwargs) == {
        "get_media_config_for_user", "is_user_allowed_to_upload_media_of_size", "get_media_upload_limits_for_user",
        "on_media_upload_limit_exceeded"}
    assert set(api.register_spam_checker_callbacks.call_args.kwargs) == {"check_media_file_for_spam",
                                                                         "check_event_for_spam"}
    return m


async def test_limits_per_role():
    m = upload()
    assert await m.get_media_config_for_user(PUPIL.user_id) == {"m.upload.size": 20 * MB}
    assert await m.get_media_config_for_user(TEACHER.user_id) == {"m.upload.size": 100 * MB}
    assert await m.get_media_config_for_user(BOT) is None
    assert await m.is_user_allowed_to_upload_media_of_size(TEACHER.user_id, 25 * MB)
    assert await m.is_user_allowed_to_upload_media_of_size(BRIDGE, 500 * MB)
    with pytest.raises(UploadRefusal) as e:
        await m.is_user_allowed_to_upload_media_of_size(PUPIL.user_id, 25 * MB)
    body = e.value.error_dict(None)
    assert (e.value.code, body["errcode"], body["org.parta.reason"]) == (413, "M_TOO_LARGE", "upload_too_large")
    assert body["error"].startswith("Файл слишком большой (25 МБ)")
    assert body["org.parta.messages"]["en"].startswith("The file is too large")
    quotas = await m.get_media_upload_limits_for_user(PUPIL.user_id)
    assert [(q.max_bytes, q.time_period_ms) for q in quotas] == [(100 * MB, 3_600_000), (300 * MB, 86_400_000)]
    assert await m.get_media_upload_limits_for_user(BOT) == []
    with pytest.raises(UploadRefusal) as e:
        await m.on_media_upload_limit_exceeded(PUPIL.user_id, quotas[1], 299 * MB, 2 * MB)
    assert e.value.errcode == "M_USER_LIMIT_EXCEEDED" and "300 МБ за сутки" in e.value.msg


async def test_content_checks(tmp_path, fake_clamd):
    server, address = fake_clamd
    m = upload(UploadConfig(clamd=address))

    def wrapper(data: bytes) -> Mock:
        path = tmp_path / f"f{len(server.streams)}-{len(data)}"
        path.write_bytes(data)
        return Mock(path=str(path))

    info = Mock(thumbnail=None)
    assert await m.check_media_file_for_spam(wrapper(b"%PDF-1.4\n%%EOF\n"), info) == NOT_SPAM
    for data, reason in ((b"MZ\x90\x00" + b"\x00" * 100, "file_is_program"), (EICAR, "virus_found"),
                         (b"\x00\x01binary", "file_type_unknown")):
        with pytest.raises(UploadRefusal) as e:
            await m.check_media_file_for_spam(wrapper(data), info)
        assert (e.value.code, e.value.errcode, e.value.error_dict(None)["org.parta.reason"]) == (
            403, "M_FORBIDDEN", reason)
    assert len(server.streams) == 2  # the program was refused by its type, before any scan
    await m.check_media_file_for_spam(wrapper(b"plain text"), Mock(thumbnail=True))
    assert len(server.streams) == 2  # Synapse's thumbnails are not scanned again


async def test_clamd_down_refuses_or_accepts_as_set(tmp_path):
    f = tmp_path / "note.txt"
    f.write_bytes(b"a clean note")
    down = f"unix:{tmp_path / 'none.sock'}"
    with pytest.raises(UploadRefusal) as e:
        await upload(UploadConfig(clamd=down)).check_media_file_for_spam(Mock(path=str(f)), Mock(thumbnail=None))
    assert e.value.error_dict(None)["org.parta.reason"] == "scan_unavailable"
    kept = await upload(UploadConfig(clamd=down, scan_unavailable="accept")).check_media_file_for_spam(
        Mock(path=str(f)), Mock(thumbnail=None))
    assert kept == NOT_SPAM


async def test_installation_may_accept_unrecognised_bytes(tmp_path):
    """Where organizations turn encryption on, attachments are random bytes to the server."""
    f = tmp_path / "encrypted.bin"
    f.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(UploadRefusal):
        await upload().check_media_file_for_spam(Mock(path=str(f)), Mock(thumbnail=None))
    m = upload(UploadConfig.parse({"unrecognised": "accept"}))
    assert await m.check_media_file_for_spam(Mock(path=str(f)), Mock(thumbnail=None)) == NOT_SPAM
    assert not upload().rules.accept_unrecognised  # the shared default rules are untouched
    with pytest.raises(ConfigError, match="unrecognised"):
        UploadConfig.parse({"unrecognised": "yes"})


def _real_files() -> dict[str, bytes]:
    """Files as the libraries Parta already depends on write them (no shipped samples)."""
    import gzip
    import io
    import wave

    import openpyxl
    from PIL import Image
    from reportlab.pdfgen import canvas

    files: dict[str, bytes] = {}
    b = io.BytesIO()
    openpyxl.Workbook().save(b)
    files["xlsx"] = b.getvalue()
    for fmt in ("JPEG", "PNG", "GIF", "WEBP", "TIFF", "BMP"):
        b = io.BytesIO()
        Image.new("RGB", (8, 8), (200, 10, 10)).save(b, fmt)
        files[fmt.lower()] = b.getvalue()
    b = io.BytesIO()
    c = canvas.Canvas(b)
    c.drawString(10, 10, "Контрольная работа")
    c.save()
    files["pdf"] = b.getvalue()
    b = io.BytesIO()
    with wave.open(b, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\0\0" * 800)
    files["wav"] = b.getvalue()
    files["gz"] = gzip.compress(b"notes")
    files["csv-cp1251"] = "Фамилия;Имя\nИванов;Иван\n".encode("cp1251")
    files["docx"] = word_document()
    files["zip"] = zip_of({"referat/referat.docx": word_document(), "referat/game.exe": PE})  # only clamd looks inside
    return files


@pytest.mark.parametrize("kind", ["xlsx", "jpeg", "png", "gif", "webp", "tiff", "bmp", "pdf", "wav", "gz",
                                  "csv-cp1251", "docx", "zip"])
async def test_what_schools_share_is_kept(tmp_path, kind):
    """No false refusals of everyday files (as real writers produce them)."""
    f = tmp_path / kind
    f.write_bytes(_real_files()[kind])
    assert await upload().check_media_file_for_spam(Mock(path=str(f)), Mock(thumbnail=None)) == NOT_SPAM


# -- issue 11 attack F2: programs inside ZIP archives, by name and claimed type; F7: the quota of a reservation

def _reason(e: pytest.ExceptionInfo) -> str:
    return e.value.error_dict(None)["org.parta.reason"]


@pytest.mark.parametrize(("data", "reason"), [
    (zip_of(APK), "file_is_program"), (zip_of(JAR), "file_is_program"), (zip_of(PYZ), "file_is_program"),
    (word_document(macros=True), "file_has_macros"),
    (b"Some text first\n" + zip_of(APK), "file_is_program"),  # a ZIP after other bytes is still read
])
async def test_programs_inside_zip_archives(tmp_path, data, reason):
    f = tmp_path / "upload"
    f.write_bytes(data)
    with pytest.raises(UploadRefusal) as e:
        await upload().check_media_file_for_spam(Mock(path=str(f)), Mock(thumbnail=None))
    assert _reason(e) == reason


def test_upload_target_matches_the_pinned_synapse():
    check_upload_target()


async def test_upload_wrap_refuses_by_name_before_synapse_reads_and_counts_a_reservation_from_now():
    m = upload()
    m.api.get_current_time_msec = Mock(return_value=1_000_000)
    m.api.run_db_interaction = AsyncMock()
    original = AsyncMock(return_value="mxc://school.test/x")

    async def create_or_update_content(media_type, upload_name, content, content_length, auth_user,
                                       media_id=None):
        return await original(media_type, upload_name, content, content_length, auth_user, media_id)

    wrapped = m.wrap_upload(create_or_update_content)
    pupil = Mock(to_string=Mock(return_value=PUPIL.user_id))
    with pytest.raises(UploadRefusal) as e:
        await wrapped("application/x-bat", "homework.bat", None, 10, pupil)
    assert (e.value.code, _reason(e)) == (403, "file_is_program") and not original.called
    assert await wrapped("text/plain", "dz.txt", None, 10, pupil) == "mxc://school.test/x"
    assert not m.api.run_db_interaction.called  # a one-step upload is counted by Synapse as it comes
    await wrapped("text/plain", "dz.txt", None, 10, pupil, media_id="abc")
    txn = Mock()
    m.api.run_db_interaction.call_args.args[1](txn)
    sql, args = txn.execute.call_args.args
    assert "SET created_ts = ?" in sql and "media_length IS NULL" in sql and args == (1_000_000, "abc", PUPIL.user_id)


async def test_a_message_names_a_file_as_a_program():
    m = upload()

    def event(content: dict, sender: str = PUPIL.user_id) -> Mock:
        return Mock(sender=sender, content=content)

    url = "mxc://school.test/abc"
    for content in ({"msgtype": "m.file", "body": "homework.bat", "url": url},
                    {"msgtype": "m.file", "body": "see the file", "filename": "hw.apk", "url": url},
                    {"msgtype": "m.file", "body": "dz.txt", "url": url, "info": {"mimetype": "application/hta"}},
                    {"msgtype": "m.text", "body": "* fixed", "m.new_content": {"msgtype": "m.file", "body": "x.vbs",
                                                                             "url": url}}):
        with pytest.raises(UploadRefusal) as e:
            await m.check_event_for_spam(event(content))
        assert _reason(e) == "file_is_program"
    for content in ({"msgtype": "m.file", "body": "dz.txt", "url": url}, {"msgtype": "m.text", "body": "run hw.bat"},
                    {"msgtype": "m.image", "body": "doska.png", "url": url, "info": {"mimetype": "image/png"}}):
        assert await m.check_event_for_spam(event(content)) == NOT_SPAM
    assert await m.check_event_for_spam(event({"msgtype": "m.file", "body": "x.bat", "url": url}, BOT)) == NOT_SPAM
