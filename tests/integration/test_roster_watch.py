"""``parta roster watch``: a drop folder or a OneRoster REST service read on a schedule and imported into
the running service when it changed; a refusal is printed and the watch goes on.

The REST service is the 1EdTech-binding server of the unit tests
(:class:`tests.unit.spaces_provisioner.roster.test_rest.OneRosterServer`), started here on a free
port; the command line runs as a child process (``python -m spaces_provisioner.cli``), so the test
waits for it in a thread while the server answers on the test's event loop.
"""

from __future__ import annotations

import asyncio
import io
import os
import shutil
import sys

import pytest

from spaces_provisioner.api.client import ApiClient
from spaces_provisioner.cli.watch import IMPORTED, REFUSED, UNCHANGED, FolderSource, RestSource, RosterWatch
from spaces_provisioner.roster import load_roster
from tests.unit.spaces_provisioner.roster.test_rest import CLIENT_ID, CLIENT_SECRET, OneRosterServer

from ..helpers import REPO
from ..schools import attack_cast, edit_roster, write_attack_roster
from .test_bad_input import run_cli

pytestmark = pytest.mark.synapse


@pytest.fixture(autouse=True)
def english(monkeypatch):
    """The watches run in this process print English (the command lines get PARTA_LANG=en too)."""
    monkeypatch.setenv("PARTA_LANG", "en")


async def watch(installation, *args: str):
    """``parta roster watch ARGS -d DIR`` in a child process, awaited without blocking the event loop."""
    return await asyncio.to_thread(run_cli, "roster", "watch", *args, "-d", str(installation.root))


def roster_people(people: dict) -> dict[str, tuple]:
    """The roster's people of a ``people`` answer (not the application's admins): id -> (role, name, classes)."""
    return {p["person_id"]: (p["role"], p["name"], tuple(p["classes"]), p["status"]) for p in people["people"]
            if not p["person_id"].startswith("application:")}


async def test_watch_once_from_a_drop_folder(hs, installation, tmp_path):
    c = attack_cast()
    org = (await hs.new_school())["org"]
    drop = write_attack_roster(tmp_path / "drop")
    expected = load_roster(drop)

    r = await watch(installation, "--org", org, str(drop), "--once")
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert f"{org}: roster oneroster-1.2: 2 classes, {len(expected.people)} people; classes added 2, " \
           f"people added {len(expected.people)}, " in r.stdout, r.stdout
    assert r.stdout.count("\n") == 1, r.stdout   # one line per cycle
    people = roster_people(await hs.api.people(org))
    assert set(people) == set(expected.people)
    assert people[c.student][2] == (c.class_id,)

    # the folder unchanged: the next cycle changes nothing
    r = await watch(installation, "--org", org, str(drop), "--once")
    assert r.returncode == 0 and "nothing to change (changes: 0)" in r.stdout, (r.stdout, r.stderr)
    assert roster_people(await hs.api.people(org)) == people

    # a later export moves a pupil: the next cycle applies the move
    edit_roster(drop, move={c.student: "class-01a"})
    r = await watch(installation, "--org", org, str(drop), "--once")
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert "students moved to another class 1" in r.stdout, r.stdout
    assert roster_people(await hs.api.people(org))[c.student][2] == ("class-01a",)

    # a dry run says what would change, writes nothing
    edit_roster(drop, move={c.student: c.class_id})
    r = await watch(installation, "--org", org, str(drop), "--once", "--dry-run")
    assert r.returncode == 0 and "dry run, nothing written: " in r.stdout, (r.stdout, r.stderr)
    assert roster_people(await hs.api.people(org))[c.student][2] == ("class-01a",)


async def test_the_watch_skips_unchanged_content_and_survives_a_refusal(hs, installation, tmp_path):
    first = write_attack_roster(tmp_path / "first")
    org = (await hs.new_school(roster=first))["org"]
    drop = shutil.copytree(first, tmp_path / "drop")
    log = io.StringIO()
    w = RosterWatch(FolderSource(drop, settle_s=0), org,
                    api=lambda: ApiClient(installation.provisioning_url, installation.operator_token), out=log)
    sent = 0
    real_import = ApiClient.import_roster

    async def counting(self, *a, **kw):
        nonlocal sent
        sent += 1
        return await real_import(self, *a, **kw)

    ApiClient.import_roster = counting  # type: ignore[method-assign]
    try:
        one = await w.cycle()
        assert one.status == IMPORTED and one.answer and one.answer["changes"] == 0, one
        two = await w.cycle()
        assert two.status == UNCHANGED and sent == 1, two   # the same content is not sent again

        edit_roster(drop, keep_only=15)   # a half-written export
        three = await w.cycle()
        assert three.status == REFUSED and "--confirm-mass-removal" in three.error, three
        assert three.details and sent == 2
        four = await w.cycle()             # refused content is tried again, and refused again
        assert four.status == REFUSED and sent == 3
    finally:
        ApiClient.import_roster = real_import  # type: ignore[method-assign]
    assert all(p[3] == "active" for p in roster_people(await hs.api.people(org)).values())
    lines = log.getvalue().splitlines()
    assert sum(f"{org}: refused, nothing written: " in line for line in lines) == 2, lines


async def test_the_watch_loop_keeps_going_after_a_refusal(hs, installation, tmp_path):
    first = write_attack_roster(tmp_path / "first")
    org = (await hs.new_school(roster=first))["org"]
    half = edit_roster(shutil.copytree(first, tmp_path / "half"), keep_only=15)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "spaces_provisioner.cli", "roster", "watch", "--org", org, str(half), "--every", "1",
        "-d", str(installation.root), cwd=REPO, env={**os.environ, "PARTA_LANG": "en"},
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        async with asyncio.timeout(90):
            while sum("refused, nothing written" in line for line in lines) < 2:
                line = (await proc.stdout.readline()).decode()
                assert line, (lines, await proc.stderr.read() if proc.stderr else b"")
                lines.append(line)
        assert proc.returncode is None, lines   # still watching
    finally:
        if proc.returncode is None:
            proc.terminate()
        await proc.wait()
    assert lines[0].startswith(f"Watching {half} for {org} every 1 s"), lines
    assert any("PARTA_MASS_REMOVAL" in line or "--confirm-mass-removal" in line for line in lines), lines
    assert all(p[3] == "active" for p in roster_people(await hs.api.people(org)).values())


async def test_watch_once_from_a_oneroster_rest_service(hs, installation, tmp_path):
    folder = write_attack_roster(tmp_path / "school")
    server = OneRosterServer(folder)
    base = await server.start()
    try:
        secret = tmp_path / "client-secret"
        secret.write_text(CLIENT_SECRET + "\n", encoding="utf-8")
        secret.chmod(0o600)
        by_folder = (await hs.new_school(roster=folder))["org"]
        org = (await hs.new_school())["org"]
        rest = ("--org", org, "--rest-url", base, "--token-url", server.token_url, "--client-id", CLIENT_ID,
                "--client-secret-file", str(secret), "--rest-version", "1.2")

        r = await watch(installation, *rest, "--once")
        assert r.returncode == 0, (r.stdout, r.stderr)
        assert "roster oneroster-1.2: 2 classes" in r.stdout and "people added" in r.stdout, r.stdout
        assert "Warning" not in r.stderr, r.stderr
        # the same school as the folder gives
        assert roster_people(await hs.api.people(org)) == roster_people(await hs.api.people(by_folder))
        assert server.token_requests == 1 and server.data_requests

        r = await watch(installation, *rest, "--once")
        assert r.returncode == 0 and "nothing to change (changes: 0)" in r.stdout, (r.stdout, r.stderr)

        # in one watch, an unchanged service is not imported again
        w = RosterWatch(RestSource(server.config("1.2", page_size=7)), org, out=io.StringIO(),
                        api=lambda: ApiClient(installation.provisioning_url, installation.operator_token))
        assert (await w.cycle()).status == IMPORTED
        assert (await w.cycle()).status == UNCHANGED

        # a wrong secret: the reason, the token URL, exit code 1, nothing changed
        secret.write_text("wrong", encoding="utf-8")
        r = await watch(installation, *rest, "--once")
        assert r.returncode == 1, (r.stdout, r.stderr)
        assert server.token_url in r.stdout and "refused the client credentials" in r.stdout, r.stdout
    finally:
        await server.stop()


async def test_watch_usage_errors(installation, tmp_path):
    r = await watch(installation, "--org", "x")
    assert r.returncode == 2 and "PATH" in r.stderr, r.stderr
    r = await watch(installation, "--org", "x", "--rest-url", "http://127.0.0.1:9")
    assert r.returncode == 2 and "--token-url" in r.stderr, r.stderr
    r = await watch(installation, "--org", "x", "--rest-url", "http://127.0.0.1:9", "--token-url", "http://t",
                    "--client-id", "c", "--client-secret-file", str(tmp_path / "missing"))
    assert r.returncode == 1 and "Cannot read the client secret" in r.stderr, r.stderr
