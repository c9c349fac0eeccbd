"""``parta demo``: a homeserver with two demo schools and an account for each role.

School A («Школа № 7») is the example application (``policies/data/application.example.yaml``)
with a Russian general school made by Parta's own generator (:mod:`spaces_provisioner.roster.generate`):
the generator writes a OneRoster 1.2 roster into ``DATA_DIR/school-a-roster/``, which the demo
then imports like any school's export. School B («Радуга») is ``demo_data/school-b.yaml`` with
the OneRoster 1.1 roster in ``demo_data/school-b-roster/``. Everything ships in the package.

Re-running on the same data directory reuses everything (the provisioning is idempotent) and
shows the same accounts: their passwords are kept in ``DATA_DIR/demo-accounts.json`` (mode
0600; demo only).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from policies.application import EXAMPLE_PATH
from policies.i18n import _

from spaces_provisioner.api.client import ApiClient
from spaces_provisioner.cli.application_file import load_application_file
from spaces_provisioner.cli.demo_journal import write_demo_journal
from spaces_provisioner.homeserver.bot import BotClient
from spaces_provisioner.install.installation import init_installation
from spaces_provisioner.install.journal_bridge import pick_port, poll_bridge
from spaces_provisioner.install.processes import StartError
from spaces_provisioner.install.supervisor import running, wait_until_stopped
from spaces_provisioner.roster.source import zip_folder
from spaces_provisioner.settings import SETTINGS_FILE, Settings

DEMO_DATA = Path(__file__).parent / "demo_data"
SERVER_NAME = "parta.localhost"
#: The generator's seed: the same school at every run.
SEED = 7

SCHOOL_B_PEOPLE = [("teacher", "b-usr-001", True), ("student", "b-usr-002", None)]
OUTSIDER = ("Прохожий", "Олег")


def school_a_people(demo: dict[str, str]) -> list[tuple[str, str, bool | None]]:
    """Demo accounts of school A: (role, roster person id, confirmed); ``demo`` is the generated
    school's :meth:`~spaces_provisioner.roster.generate.GeneratedSchool.demo_people`."""
    return [
        ("admin", "application:administrator", None),
        ("head", "application:head", None),
        ("teacher", demo["teacher"], True),            # the student's class teacher
        ("teacher_unconfirmed", demo["teacher_unconfirmed"], False),
        ("student", demo["student"], None),
        ("parent", demo["parent"], None),              # a guardian of the student
    ]


def write_school_a(data_dir: Path, size: str) -> tuple[Path, dict[str, str]]:
    """Generate school A and write its OneRoster 1.2 roster into ``data_dir/school-a-roster``
    (the same files at every run with the same ``size``); returns (folder, demo people)."""
    from spaces_provisioner.roster.generate import generate_school, write_oneroster

    school = generate_school(size, seed=SEED)
    folder = data_dir / "school-a-roster"
    write_oneroster(school, folder)
    return folder, school.demo_people()


async def provision_demo(settings: Settings, size: str = "small") -> dict:
    """Provision both demo schools through the provisioning API; returns the demo's JSON summary."""
    keep_path = settings.root / "demo-accounts.json"
    known = json.loads(keep_path.read_text()) if keep_path.exists() else {}
    accounts: list[dict] = []
    organizations: list[dict] = []
    bot = BotClient(settings.homeserver_url, settings.bot_access_token, settings.bot_user_id,
                    unix_socket=settings.admin_socket)

    async def remember(role: str, org: str | None, user_id: str, password: str | None) -> None:
        if password is None:
            password = known.get(user_id)
        if password is None:  # the account exists but its password was lost: give it a new one
            from spaces_provisioner.ops.accounts import one_time_password
            password = one_time_password()
            await bot.put_user(user_id, {"password": password})
        known[user_id] = password
        accounts.append({"role": role, "organization": org, "user_id": user_id, "password": password})

    try:
        roster_a, demo_a = write_school_a(settings.root, size)
        async with ApiClient(settings.provisioning_url, settings.operator_token) as api:
            for app_file, roster, people in (
                (EXAMPLE_PATH, roster_a, school_a_people(demo_a)),
                (DEMO_DATA / "school-b.yaml", DEMO_DATA / "school-b-roster", SCHOOL_B_PEOPLE),
            ):
                application = load_application_file(app_file)
                data = application.to_json()
                if app_file == EXAMPLE_PATH:  # school A has the journal bridge (demo_journal.py)
                    data["settings"] = {**(data.get("settings") or {}), "journal_bridge": True}
                await api.apply_application(data)
                approved = await api.approve(application.slug)
                org = approved["organization"]
                organizations.append({"id": org["id"], "name": org["name"], "space_id": org["space_id"]})
                await api.import_roster(org["id"], zip_folder(roster))
                new_passwords = {a["user_id"]: a["password"] for a in approved["accounts"]}
                for role, person, confirmed in people:
                    r = await api.provision_person(org["id"], person, confirmed)
                    await remember(role, org["id"], r["user_id"], r["password"] or new_passwords.get(r["user_id"]))
            outsider = known.get("__outsider__")
            if outsider is None:
                r = await api.create_account(*OUTSIDER)
                outsider = r["user_id"]
                known["__outsider__"] = outsider
                known[outsider] = r["password"]
            await remember("none", None, outsider, known.get(outsider))
        journal = await poll_bridge(settings.root)
    finally:
        await bot.close()
    fd = os.open(keep_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(known, f, ensure_ascii=False, indent=1)
    return {"homeserver": settings.homeserver_url, "provisioning": settings.provisioning_url,
            "server_name": settings.server_name, "organizations": organizations, "accounts": accounts,
            "journal": {"sources": [{k: s[k] for k in ("source", "posted", "edited", "error")}
                                    for s in (journal or {}).get("sources", [])],
                        "reminders": (journal or {}).get("reminders", 0)}}


def relax_demo_login_limits(config_path: Path) -> None:
    """Demo only: someone trying all nine accounts from one browser would hit Synapse's default
    login rate limit (5 logins, then one every ~6 minutes); allow 60 in a burst."""
    from ruamel.yaml import YAML

    y = YAML()
    data = y.load(config_path.read_text(encoding="utf-8"))
    limit = {"per_second": 1, "burst_count": 60}
    data["rc_login"] = {"address": limit, "account": limit, "failed_attempts": limit}
    data.yaml_set_comment_before_after_key("rc_login", before="parta demo: relaxed so that every demo account "
                                                             "can be tried from one machine")
    with config_path.open("w", encoding="utf-8") as f:
        y.dump(data, f)


def print_table(summary: dict) -> None:
    """The demo summary as a readable table (rich)."""
    from rich.console import Console
    from rich.table import Table

    console = Console(width=None if sys.stdout.isatty() else 200)
    console.print(_("Parta demo is ready. Homeserver: [bold]{url}[/bold] (server name {name})").format(
        url=summary["homeserver"], name=summary["server_name"]))
    console.print(_("Provisioning service: {url}").format(url=summary["provisioning"]))
    orgs = Table(_("organization"), _("name"), _("space"))
    for o in summary["organizations"]:
        orgs.add_row(o["id"], o["name"], o["space_id"])
    console.print(orgs)
    acc = Table(_("role"), _("organization"), _("user"), _("password"))
    for a in summary["accounts"]:
        acc.add_row(a["role"], a["organization"] or "—", a["user_id"], a["password"])
    console.print(acc)
    console.print(_("The journal: homework in the class chat, a grade in the pupil's diary (seen by the pupil and "
                    "the parent), a lesson reminder and a cancelled lesson in the class announcements."))
    console.print(_("Sign in with Element (or any Matrix client): on the sign-in screen choose “Edit” next to "
                    "the homeserver, enter {url}, then a user and its password from the table. Press Ctrl-C to "
                    "stop.").format(url=summary["homeserver"]))


def run_demo(port: int, data_dir: Path, as_json: bool, size: str = "small") -> int:
    """``parta demo``: init (first time), run, provision, print, then wait for Ctrl-C.

    ``size`` names the generated school A (:data:`~spaces_provisioner.roster.generate.SIZES`)."""
    from spaces_provisioner.roster.generate import SIZES

    if size not in SIZES:
        raise ValueError(f"unknown school size {size!r}; use one of {', '.join(SIZES)}")
    data_dir = data_dir.resolve()
    if not (data_dir / SETTINGS_FILE).exists():
        if not as_json:
            print(_("Creating the demo homeserver in {dir}...").format(dir=data_dir), flush=True)
        init_installation(data_dir, SERVER_NAME, port=port, bridge_port=pick_port(port + 2))
        relax_demo_login_limits(data_dir / "homeserver.yaml")
    settings = Settings.load(data_dir)
    from spaces_provisioner.roster.generate import generate_school

    write_demo_journal(data_dir, generate_school(size, seed=SEED), load_application_file(EXAMPLE_PATH).slug)
    if not settings.homeserver_url.endswith(f":{port}") and not as_json:
        print(_("{dir} was created for another port; it keeps {url}").format(dir=data_dir, url=settings.homeserver_url))
    try:
        with running(settings) as services:
            summary = asyncio.run(provision_demo(settings, size))
            if as_json:
                print(json.dumps(summary, ensure_ascii=False), flush=True)
            else:
                print_table(summary)
            code = wait_until_stopped(services)
        if not as_json:
            print(_("Stopped."))
        return code
    except StartError as e:
        print(e, file=sys.stderr)
        return 1
