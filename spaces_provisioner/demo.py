"""``parta demo``: a homeserver with two demo schools and an account for each role.

School A comes from ``config/application.example.yaml`` and the Microsoft School
Data Sync v2.1 sample roster (``../shared/data/rosters/sds-v2.1-sample`` next to the
repository, or ``$PARTA_SAMPLES``); school B from ``config/demo/school-b.yaml``
and the OneRoster 1.1 roster in ``config/demo/school-b-roster``. Re-running on the
same data directory reuses everything (the provisioning is idempotent) and shows
the same accounts: their passwords are kept in ``DATA_DIR/demo-accounts.json``
(mode 0600; demo only).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from policies.i18n import _

from .api_client import ApiClient
from .application_file import load_application_file
from .installation import init_installation
from .matrix import BotClient
from .processes import StartError
from .samples import shared_rosters_dir
from .service import zip_folder
from .settings import SETTINGS_FILE, Settings
from .supervisor import running, wait_until_stopped

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "config"
SERVER_NAME = "parta.localhost"

#: Demo accounts per school: (role, roster person id, confirmed).
SCHOOL_A_PEOPLE = [
    ("admin", "application:administrator", None),
    ("head", "application:head", None),
    ("teacher", "114007", True),          # teaches "Biology 10" (112002), the student's class
    ("teacher_unconfirmed", "114006", False),
    ("student", "114001", None),
    ("parent", "114002", None),           # guardian of 114001 (relationships.csv)
]
SCHOOL_B_PEOPLE = [("teacher", "b-usr-001", True), ("student", "b-usr-002", None)]
OUTSIDER = ("Прохожий", "Олег")


def find_sds_sample() -> Path | None:
    """The SDS v2.1 sample roster (see ``spaces_provisioner.samples``), or None."""
    rosters = shared_rosters_dir()
    return rosters / "sds-v2.1-sample" if rosters else None


async def provision_demo(settings: Settings, sds_sample: Path) -> dict:
    """Provision both demo schools through the provisioning API; returns the demo's JSON summary."""
    keep_path = settings.root / "demo-accounts.json"
    known = json.loads(keep_path.read_text()) if keep_path.exists() else {}
    accounts: list[dict] = []
    organizations: list[dict] = []
    bot = BotClient(settings.homeserver_url, settings.bot_access_token, settings.bot_user_id)

    async def remember(role: str, org: str | None, user_id: str, password: str | None) -> None:
        if password is None:
            password = known.get(user_id)
        if password is None:  # the account exists but its password was lost: give it a new one
            from .accounts import one_time_password
            password = one_time_password()
            await bot.put_user(user_id, {"password": password})
        known[user_id] = password
        accounts.append({"role": role, "organization": org, "user_id": user_id, "password": password})

    try:
        async with ApiClient(settings.provisioning_url, settings.operator_token) as api:
            for app_file, roster, people in (
                (CONFIG / "application.example.yaml", sds_sample, SCHOOL_A_PEOPLE),
                (CONFIG / "demo" / "school-b.yaml", CONFIG / "demo" / "school-b-roster", SCHOOL_B_PEOPLE),
            ):
                application = load_application_file(app_file)
                await api.apply_application(application.to_json())
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
    finally:
        await bot.close()
    fd = os.open(keep_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(known, f, ensure_ascii=False, indent=1)
    return {"homeserver": settings.homeserver_url, "provisioning": settings.provisioning_url,
            "server_name": settings.server_name, "organizations": organizations, "accounts": accounts}


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
    console.print(_("Sign in with Element (or any Matrix client): on the sign-in screen choose “Edit” next to "
                    "the homeserver, enter {url}, then a user and its password from the table. Press Ctrl-C to "
                    "stop.").format(url=summary["homeserver"]))


def run_demo(port: int, data_dir: Path, as_json: bool) -> int:
    """``parta demo``: init (first time), run, provision, print, then wait for Ctrl-C."""
    sample = find_sds_sample()
    if sample is None:
        print(_("The School Data Sync v2.1 sample roster was not found next to the repository "
                "(../shared/data/rosters/sds-v2.1-sample); set PARTA_SAMPLES to the folder that holds it"), file=sys.stderr)
        return 1
    data_dir = data_dir.resolve()
    if not (data_dir / SETTINGS_FILE).exists():
        if not as_json:
            print(_("Creating the demo homeserver in {dir}...").format(dir=data_dir), flush=True)
        init_installation(data_dir, SERVER_NAME, port=port)
        relax_demo_login_limits(data_dir / "homeserver.yaml")
    settings = Settings.load(data_dir)
    if not settings.homeserver_url.endswith(f":{port}") and not as_json:
        print(_("{dir} was created for another port; it keeps {url}").format(dir=data_dir, url=settings.homeserver_url))
    try:
        with running(settings) as services:
            summary = asyncio.run(provision_demo(settings, sample))
            if as_json:
                print(json.dumps(summary, ensure_ascii=False), flush=True)
            else:
                print_table(summary)
            return wait_until_stopped(services)
    except StartError as e:
        print(e, file=sys.stderr)
        return 1
