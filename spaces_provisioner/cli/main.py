"""The ``parta`` command line.

::

    parta init DIR --server-name NAME [--postgres DSN] [--port 8008] [--behind-proxy]
                   [--clamd ADDRESS [--scan-unavailable refuse|accept]] [--force]
    parta run DIR
    parta org example           (prints the example application)
    parta org apply FILE        [-d DIR]
    parta org list              [-d DIR]
    parta org approve ID        [-d DIR]
    parta roster import --org ID PATH   [--format F] [--dry-run] [--confirm-mass-removal] [-v] [-d DIR]
    parta accounts create --org ID      [--people ID...] [--out accounts.csv] [-d DIR]
    parta year rollover --org ID        [--roster PATH] [--year 2025/26] [--dry-run] [-d DIR]
    parta roster watch --org ID (PATH | --rest-url URL --token-url URL --client-id ID --client-secret-file FILE
                       [--rest-version 1.1|1.2]) [--every SECONDS] [--once] [--dry-run] [-d DIR]
    parta poll results ROOM EVENT       [--csv FILE] [--token TOKEN] [-d DIR]
    parta office-hours show|set|clear USER [--days 1-5 --from HH:MM --to HH:MM] [--token TOKEN] [-d DIR]
    parta audit --org ID | parta reports --org ID | parta moderation ACTION --org ID --report ID  (cli/moderation.py)
    parta export --org ID ROOM          [--format json|pdf|html] [--out FILE] [--token TOKEN] [-d DIR]
    parta retention run --org ID        [--dry-run] [-d DIR]
    parta demo [--port P] [--data-dir D] [--school small|medium|large] [--json]

``-d DIR`` (default: ``$PARTA_DIR``, else the current directory) names the
installation whose running provisioning service the command talks to.
``--lang en`` switches messages to English (default Russian, or ``$PARTA_LANG``).
Exit codes: 0 done, 1 refused (the message says why), 2 wrong usage.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path

from policies.application import ApplicationError
from policies.i18n import _, set_language
from policies.labels import ROSTER_KINDS, role_title

from spaces_provisioner.api.client import ApiClient, ApiError
from spaces_provisioner.cli import moderation
from spaces_provisioner.settings import Settings, SettingsError


def _print_json(data) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2))


def _print_changes(result: dict) -> None:
    for line in result.get("details", []):
        print(f"  + {line}")
    n = result.get("changes", 0)
    print(_("Changes: {n}").format(n=n) if n else _("Nothing to change: everything is already in place (changes: 0)"))


def _settings(args) -> Settings:
    return Settings.load(Path(args.dir or os.environ.get("PARTA_DIR") or "."))


async def _with_api(args, fn):
    settings = _settings(args)
    token = getattr(args, "token", None) or os.environ.get("PARTA_TOKEN") or settings.operator_token
    async with ApiClient(settings.provisioning_url, token) as api:
        return await fn(api)


def _show(args, result, human) -> int:
    if getattr(args, "json", False):
        _print_json(result)
    else:
        human(result)
    return 0


def cmd_link_create(args) -> int:
    body = {k: v for k, v in {"role": args.role, "class_id": args.class_id, "child_user_id": args.child,
                              "rooms": args.room or None, "uses_allowed": args.uses,
                              "expires_in_s": args.expires_in}.items() if v is not None}
    result = asyncio.run(_with_api(args, lambda api: api.create_link(args.org, body)))
    return _show(args, result, lambda r: print(_("Link {code}: {url}").format(code=r["code"], url=r["url"])))


def cmd_link_list(args) -> int:
    result = asyncio.run(_with_api(args, lambda api: api.list_links(args.org)))
    return _show(args, result, lambda r: [print(f"{x['code']}\t{x['role'] or '-'}\t{x['class_id'] or '-'}\t"
                                                f"{x['uses']}/{x['uses_allowed'] or '∞'}\t"
                                                f"{'revoked' if x['revoked'] else ''}") for x in r["links"]])


def cmd_link_revoke(args) -> int:
    result = asyncio.run(_with_api(args, lambda api: api.revoke_link(args.code)))
    return _show(args, result, lambda r: print(_("Link {code} revoked").format(code=r["code"])))


def cmd_codes(args) -> int:
    if args.sheet:
        if not args.class_id:
            print(_("--sheet needs --class"), file=sys.stderr)
            return 2
        data = asyncio.run(_with_api(args, lambda api: api.class_sheet(args.org, args.class_id, args.sheet)))
        out = Path(args.out or f"{args.org}-{args.class_id}.{args.sheet}")
        out.write_bytes(data)
        print(_("Class sheet written to {path}").format(path=out))
        return 0
    result = asyncio.run(_with_api(args, lambda api: api.personal_codes(args.org, args.class_id)))
    return _show(args, result, lambda r: [print(f"{c['code']}\t{role_title(c['role'])}\t{c['name']}\t{c['url']}")
                                          for c in r["codes"]])


def cmd_people_list(args) -> int:
    def line(p: dict) -> str:
        badge = settings.badge if p["confirmed"] and p["role"] == "teacher" else ""
        return f"{p['person_id']}\t{p['role']}{badge}\t{p['name']}\t{p['user_id'] or '-'}\t{p['status']}"

    settings = _settings(args)
    result = asyncio.run(_with_api(args, lambda api: api.people(args.org, args.role)))
    return _show(args, result, lambda r: [print(line(p)) for p in r["people"]])


def _person_update(args, body: dict) -> int:
    result = asyncio.run(_with_api(args, lambda api: api.update_person(args.org, args.person, body)))
    return _show(args, result, _print_changes)


def cmd_people_confirm(args) -> int:
    return _person_update(args, {"confirmed": True})


def cmd_people_set(args) -> int:
    body = {}
    if args.role:
        body["role"] = args.role
    if args.classes is not None:
        body["classes"] = [c for c in args.classes.split(",") if c]
    for field in ("family_name", "given_name", "middle_name"):
        if getattr(args, field) is not None:
            body[field] = getattr(args, field)
    return _person_update(args, body)


def cmd_people_remove(args) -> int:
    result = asyncio.run(_with_api(args, lambda api: api.remove_person(args.org, args.person)))
    return _show(args, result, _print_changes)


def cmd_init(args) -> int:
    from spaces_provisioner.install.homeserver_config import InitError
    from spaces_provisioner.install.installation import AlreadyInitialized, init_installation
    from spaces_provisioner.install.processes import StartError

    if args.workers and not args.postgres:
        print(_("Initialization failed: {error}").format(error=_(
            "Synapse's workers share one PostgreSQL database and SQLite cannot be shared: add --postgres DSN "
            "(a database created with C collation) to parta init --workers")), file=sys.stderr)
        return 1
    try:
        settings = init_installation(Path(args.dir), args.server_name, postgres_dsn=args.postgres, port=args.port,
                                     public_baseurl=args.public_baseurl, force=args.force, language=args.lang or "ru",
                                     behind_proxy=args.behind_proxy, clamd=args.clamd,
                                     scan_unavailable=args.scan_unavailable, turn_port=args.turn_port,
                                     livekit_url=args.livekit_url,
                                     federate_with=[n for n in (args.federate_with or "").split(",") if n.strip()])
        if args.workers:
            _write_workers(settings, args)
        else:
            from spaces_provisioner.install.workers import remove_worker_topology

            if remove_worker_topology(settings):
                print(_("The worker topology of the earlier initialization was removed: this installation now "
                        "runs as one process (add --workers to keep the workers)"))
    except AlreadyInitialized as e:
        print(_("{dir} already holds a Parta installation; nothing was changed (use --force to regenerate "
                "its configuration, keeping its data)").format(dir=e))
        return 0
    except (InitError, StartError) as e:
        print(_("Initialization failed: {error}").format(error=e), file=sys.stderr)
        return 1
    print(_("Created the installation in {dir}").format(dir=settings.root))
    print(_("  homeserver configuration: {path}").format(path=settings.homeserver_config))
    print(_("  provisioning configuration: {path}").format(path=settings.root / "parta.yaml"))
    print(_("  the Parta bot: {user}").format(user=settings.bot_user_id))
    print(_("Start it with: parta run {dir}").format(dir=settings.root))
    return 0


def _write_workers(settings: Settings, args) -> None:
    """``parta init --workers``: Synapse's worker topology behind nginx (``install.workers``)."""
    from spaces_provisioner.install.workers import write_worker_topology

    redis_host, _sep, redis_port = args.redis.rpartition(":")
    write_worker_topology(settings, redis_host=redis_host or "127.0.0.1", redis_port=int(redis_port),
                          start_redis=args.run_redis)


def cmd_run(args) -> int:
    from spaces_provisioner.install.processes import StartError
    from spaces_provisioner.install.supervisor import running, wait_until_stopped

    try:
        settings = Settings.load(Path(args.dir))
    except SettingsError as e:
        print(e, file=sys.stderr)
        return 1
    try:
        with running(settings) as services:
            print(_("Homeserver: {url}").format(url=settings.homeserver_url))
            print(_("Provisioning service: {url}").format(url=settings.provisioning_url))
            print(_("Logs: {path}").format(path=settings.logs_dir))
            print(_("Press Ctrl-C to stop."), flush=True)
            code = wait_until_stopped(services)
        print(_("Stopped."))
        return code
    except StartError as e:
        print(e, file=sys.stderr)
        return 1


def cmd_org_apply(args) -> int:
    from spaces_provisioner.cli.application_file import load_application_file

    try:
        application = load_application_file(Path(args.file))
    except ApplicationError as e:
        print(_("{file}: the application has mistakes; nothing was recorded:").format(file=args.file), file=sys.stderr)
        for p in e.problems:
            print(f"  {p}", file=sys.stderr)
        return 1
    result = asyncio.run(_with_api(args, lambda api: api.apply_application(application.to_json())))
    print(_("Application {id}: {status}").format(id=result["id"], status=result["status"]))
    _print_changes(result)
    if result["status"] == "pending":
        print(_("Approve it with: parta org approve {id}").format(id=result["id"]))
    return 0


def cmd_org_example(args) -> int:
    from policies.application import example_text

    sys.stdout.write(example_text())
    return 0


def cmd_org_list(args) -> int:
    result = asyncio.run(_with_api(args, lambda api: api.list_applications()))
    if args.json:
        _print_json(result)
        return 0
    for a in result["applications"]:
        print(f"{a['id']}\t{a['status']}\t{a['full_name']}")
    return 0


def cmd_org_approve(args) -> int:
    result = asyncio.run(_with_api(args, lambda api: api.approve(args.id)))
    if args.json:
        _print_json(result)
        return 0
    org = result["organization"]
    print(_("Organization {id} ({name}): space {space}").format(id=org["id"], name=org["name"], space=org["space_id"]))
    for a in result["accounts"]:
        print(_("  account {user} ({role}), one-time password: {password}  (shown once: pass it on now)").format(
            user=a["user_id"], role=a["role"], password=a["password"]))
    _print_changes(result)
    return 0


def cmd_roster_import(args) -> int:
    from spaces_provisioner.roster import RosterError, load_roster
    from spaces_provisioner.roster.source import zip_folder

    path = Path(args.path)
    try:
        roster = load_roster(path, args.format)  # checked here first: the user sees their own file names
    except RosterError as e:
        print(_("The roster cannot be imported; nothing was written:"), file=sys.stderr)
        print(f"  {e}", file=sys.stderr)
        return 1
    data = zip_folder(path)
    from rich.console import Console

    console = Console(stderr=True)
    with console.status(_("Importing the roster and updating the rooms...")) if not args.json else _nothing():
        result = asyncio.run(_with_api(args, lambda api: api.import_roster(
            args.org, data, dry_run=args.dry_run, confirm_mass_removal=args.confirm_mass_removal,
            format=args.format)))
    if args.json:
        _print_json(result)
        return 0
    print(_("Roster ({format}): {classes} classes, {people} people").format(
        format=roster.format, classes=len(roster.classes), people=len(roster.people)))
    for p in result["problems"]:
        print(_("  skipped: {problem}").format(problem=p))
    kept = result.get("kept") or {}
    if kept.get("classes"):
        print(_("  kept although absent from this roster: {classes} classes").format(
            classes=len(kept.get("classes", []))))
    _print_roster_summary(result, verbose=args.verbose)
    return 0


def cmd_roster_watch(args) -> int:
    from spaces_provisioner.cli.watch import FolderSource, RestSource, RosterWatch
    from spaces_provisioner.roster.rest import RestConfig

    rest = [args.rest_url, args.token_url, args.client_id, args.client_secret_file]
    if (args.path is None) == (args.rest_url is None):
        print(_("Give either the roster's folder (PATH) or --rest-url (one of the two)"), file=sys.stderr)
        return 2
    if args.path is None and not all(rest):
        print(_("--rest-url needs --token-url, --client-id and --client-secret-file"), file=sys.stderr)
        return 2
    if args.every <= 0:
        print(_("--every must be a positive number of seconds"), file=sys.stderr)
        return 2
    source: FolderSource | RestSource
    if args.path is not None:
        source = FolderSource(Path(args.path), args.format)
    else:
        secret_file = Path(args.client_secret_file)
        try:
            secret = secret_file.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as e:
            print(_("Cannot read the client secret from {file}: {error}").format(file=secret_file, error=e),
                  file=sys.stderr)
            return 1
        if not secret:
            print(_("The client secret file {file} is empty").format(file=secret_file), file=sys.stderr)
            return 1
        if os.name == "posix" and secret_file.stat().st_mode & 0o077:
            print(_("Warning: {file} can be read by other users; make it readable by its owner only "
                    "(chmod 600)").format(file=secret_file), file=sys.stderr)
        source = RestSource(RestConfig(args.rest_url, args.token_url, args.client_id, secret,
                                       version=args.rest_version, scope=args.rest_scope or ""))
    settings = _settings(args)
    token = getattr(args, "token", None) or os.environ.get("PARTA_TOKEN") or settings.operator_token
    watch = RosterWatch(source, args.org, api=lambda: ApiClient(settings.provisioning_url, token),
                        every=args.every, dry_run=args.dry_run, confirm_mass_removal=args.confirm_mass_removal,
                        as_json=args.json)
    if not args.once and not args.json:
        print(_("Watching {source} for {org} every {every} s; Ctrl-C stops").format(
            source=source.describe(), org=args.org, every=f"{args.every:g}"), flush=True)
    try:
        return asyncio.run(watch.run(once=args.once))
    except KeyboardInterrupt:
        print(_("Stopped."))
        return 0


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False




def _print_roster_summary(result: dict, verbose: bool) -> None:
    """The import's counts per kind as a table; every line with ``verbose``."""
    from rich.console import Console
    from rich.table import Table

    table = Table(_("what"), _("count"), title=_("Changes this roster would make (nothing written)")
                  if result.get("dry_run") else _("Changes made"))
    for kind, n in (result.get("summary") or {}).items():
        if n:
            table.add_row(_(ROSTER_KINDS.get(kind, kind)), str(n))
    if result.get("moves"):
        table.add_row(_("students moved to another class"), str(result["moves"]))
    Console(width=None if sys.stdout.isatty() else 120).print(table)
    if verbose:
        for line in result.get("details", []):
            print(f"  + {line}")
    n = result.get("changes", 0)
    print(_("Changes: {n}").format(n=n) if n else _("Nothing to change: everything is already in place (changes: 0)"))


def cmd_accounts_create(args) -> int:
    """Accounts for a school's roster people; the one-time passwords go to a CSV file (mode 0600)."""
    import csv

    from rich.console import Console

    console = Console(stderr=True)
    with console.status(_("Creating accounts and placing them in their rooms...")) if not args.json else _nothing():
        result = asyncio.run(_with_api(args, lambda api: api.provision_many(args.org, args.people or None)))
    if args.json:
        _print_json(result)
        return 0
    out = Path(args.out)
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8-sig", newline="") as f:  # with a BOM: Excel reads it as UTF-8
        w = csv.writer(f, delimiter=";")
        w.writerow(["person_id", "role", "user_id", "password"])
        for a in result["accounts"]:
            w.writerow([a["person_id"], a["role"], a["user_id"], a["password"]])
    print(_("Accounts created: {n}; one-time passwords written to {path} (hand them out, then delete the file)")
          .format(n=result["created"], path=out))
    print(_("Changes: {n}").format(n=result["changes"]))
    return 0


def cmd_year_rollover(args) -> int:
    """The new school year: last year's class rooms archived, classes a grade up (or as the roster says)."""
    from spaces_provisioner.roster import RosterError, load_roster
    from spaces_provisioner.roster.source import zip_folder

    data = None
    if args.roster:
        try:
            load_roster(Path(args.roster))  # checked here first: the user sees their own file names
        except RosterError as e:
            print(_("The roster cannot be imported; nothing was written:"), file=sys.stderr)
            print(f"  {e}", file=sys.stderr)
            return 1
        data = zip_folder(Path(args.roster))
    from rich.console import Console

    with Console(stderr=True).status(_("Archiving last year's class rooms and starting the new year...")) \
            if not args.json else _nothing():
        result = asyncio.run(_with_api(args, lambda api: api.rollover(args.org, data, year=args.year,
                                                                      dry_run=args.dry_run)))
    if args.json:
        _print_json(result)
        return 0
    title = _("The new school year (nothing written yet)") if result["dry_run"] else _("The new school year")
    print(f"{title}: {result['year']}")
    print(_("  class rooms archived (read-only, kept): {n}").format(n=len(result["archived"])))
    print(_("  classes moved up a grade: {n}").format(n=len(result["promoted"])))
    print(_("  pupils graduated: {n}").format(n=len(result["graduated"])))
    if result.get("roster"):
        _print_roster_summary(result["roster"], verbose=False)
    print(_("Changes: {n}").format(n=result["changes"]))
    return 0


def cmd_poll_results(args) -> int:
    """``parta poll results ROOM EVENT``: who answered what, and who has not (a table, ``--json``, or
    ``--csv FILE``, the spreadsheet file)."""
    if args.csv:
        data = asyncio.run(_with_api(args, lambda api: api.poll_results(args.room, args.event, "csv")))
        Path(args.csv).write_bytes(data)
        print(_("Poll results written to {path}").format(path=args.csv))
        return 0
    result = asyncio.run(_with_api(args, lambda api: api.poll_results(args.room, args.event)))

    def human(r: dict) -> None:
        print(r["poll"]["question"])
        for a in r["poll"]["answers"]:
            print(f"  {a['votes']}\t{a['text']}")
        for p in r["people"]:
            print(f"{', '.join(p['classes']) or '-'}\t{p['role_title'] or '-'}\t{p['name']}\t"
                  f"{p['answer_text'] if p['answered'] else _('(no answer)')}")
        print(_("Answered: {n}; not answered: {m}").format(n=r["answered"], m=r["not_answered"]))

    return _show(args, result, human)


def cmd_demo(args) -> int:
    from spaces_provisioner.cli.demo import run_demo

    return run_demo(port=args.port, data_dir=Path(args.data_dir), as_json=args.json, size=args.school)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``parta`` (sub-commands as in the module docstring)."""
    from spaces_provisioner.roster import CLASS_LIST, FORMATS

    p = argparse.ArgumentParser(prog="parta", description=_("Parta: a closed school messenger on Matrix"))
    p.add_argument("--lang", choices=["ru", "en"], help=_("language of messages (default: ru)"))
    sub = p.add_subparsers(dest="command", required=True)

    def with_dir(sp):
        sp.add_argument("-d", "--dir", help=_("the installation directory (default: $PARTA_DIR or .)"))
        sp.add_argument("--json", action="store_true", help=_("print the answer as JSON"))
        sp.add_argument("--token", help=_("act with this Matrix access token (default: $PARTA_TOKEN, else the "
                                          "operator token)"))
        return sp

    sp = sub.add_parser("init", help=_("create a homeserver configuration with Parta"))
    sp.add_argument("dir")
    sp.add_argument("--server-name", required=True)
    sp.add_argument("--postgres", metavar="DSN", help=_("a PostgreSQL database (created with C collation)"))
    sp.add_argument("--port", type=int, default=8008)
    sp.add_argument("--public-baseurl")
    sp.add_argument("--behind-proxy", action="store_true",
                    help=_("a reverse proxy is in front: trust its X-Forwarded-For (never without a proxy)"))
    sp.add_argument("--clamd", metavar="ADDRESS",
                    help=_("scan uploads for viruses with clamd at unix:/path/clamd.ctl or tcp:host:port"))
    sp.add_argument("--scan-unavailable", choices=("refuse", "accept"), default="refuse",
                    help=_("what happens to an upload while clamd is down (default: refuse)"))
    sp.add_argument("--turn-port", type=int, metavar="PORT",
                    help=_("coturn's port for 1:1 calls (default: kept, else 3478 when free)"))
    sp.add_argument("--livekit-url", metavar="URL",
                    help=_("the LiveKit SFU of group calls, wss://... (default: kept, else on this server's host)"))
    sp.add_argument("--federate-with", metavar="SERVER,...",
                    help=_("partner servers (comma-separated) whose staff may join this server's cross-school "
                           "network rooms (default: no federation)"))
    sp.add_argument("--workers", action="store_true",
                    help=_("run Synapse as workers behind nginx (needs --postgres and Redis)"))
    sp.add_argument("--redis", metavar="HOST:PORT", default="127.0.0.1:6379",
                    help=_("the Redis of the workers' replication (default: 127.0.0.1:6379)"))
    sp.add_argument("--run-redis", action="store_true",
                    help=_("parta run starts Debian's redis-server on that port itself"))
    sp.add_argument("--force", action="store_true")
    sp.set_defaults(func=cmd_init)

    sp = sub.add_parser("run", help=_("start the homeserver and the provisioning service"))
    sp.add_argument("dir")
    sp.set_defaults(func=cmd_run)

    org = sub.add_parser("org", help=_("organization applications")).add_subparsers(dest="org_command", required=True)
    sp = org.add_parser("example", help=_("print the example application (YAML with comments) to fill in"))
    sp.set_defaults(func=cmd_org_example)
    sp = with_dir(org.add_parser("apply", help=_("validate and record an application")))
    sp.add_argument("file")
    sp.set_defaults(func=cmd_org_apply)
    sp = with_dir(org.add_parser("list", help=_("list the applications")))
    sp.set_defaults(func=cmd_org_list)
    sp = with_dir(org.add_parser("approve", help=_("approve an application and build the organization")))
    sp.add_argument("id")
    sp.set_defaults(func=cmd_org_approve)
    from spaces_provisioner.cli import org_settings

    org_settings.add_parser(org, with_dir)

    roster = sub.add_parser("roster", help=_("rosters")).add_subparsers(dest="roster_command", required=True)
    sp = with_dir(roster.add_parser("import", help=_("import a roster: OneRoster, School Data Sync or class lists")))
    sp.add_argument("--org", required=True)
    sp.add_argument("path", help=_("a folder, a .zip, or a class list (.csv, .xlsx)"))
    sp.add_argument("--format", choices=FORMATS + (CLASS_LIST,),
                    help=_("the roster's format (detected when not given)"))
    sp.add_argument("--dry-run", action="store_true", help=_("show the changes, write nothing"))
    sp.add_argument("--confirm-mass-removal", action="store_true",
                    help=_("apply even if the roster removes many people of the school"))
    sp.add_argument("-v", "--verbose", action="store_true", help=_("list every change"))
    sp.set_defaults(func=cmd_roster_import)

    sp = with_dir(roster.add_parser("watch", help=_("import a roster again whenever it changes: a drop folder "
                                                    "or a OneRoster REST service")))
    sp.add_argument("--org", required=True)
    sp.add_argument("path", nargs="?", help=_("a drop folder, a .zip, or a class list (.csv, .xlsx)"))
    sp.add_argument("--format", choices=FORMATS + (CLASS_LIST,),
                    help=_("the roster's format (detected when not given)"))
    sp.add_argument("--rest-url", metavar="URL", help=_("the OneRoster REST provider's base URL"))
    sp.add_argument("--token-url", metavar="URL", help=_("the provider's OAuth 2 token URL"))
    sp.add_argument("--client-id", metavar="ID", help=_("the OAuth 2 client id"))
    sp.add_argument("--client-secret-file", metavar="FILE", help=_("a file holding the OAuth 2 client secret"))
    sp.add_argument("--rest-version", choices=["1.1", "1.2"], default="1.1",
                    help=_("the OneRoster version of the REST service (default: 1.1)"))
    sp.add_argument("--rest-scope", metavar="SCOPE", help=_("the OAuth 2 scope to ask for (default: none)"))
    sp.add_argument("--every", type=float, default=3600, metavar="SECONDS",
                    help=_("seconds between readings (default: 3600)"))
    sp.add_argument("--once", action="store_true", help=_("read and import once, then exit"))
    sp.add_argument("--dry-run", action="store_true", help=_("show the changes, write nothing"))
    sp.add_argument("--confirm-mass-removal", action="store_true",
                    help=_("apply even if the roster removes many people of the school"))
    sp.set_defaults(func=cmd_roster_watch)

    year = sub.add_parser("year", help=_("the school year")).add_subparsers(dest="year_command", required=True)
    sp = with_dir(year.add_parser("rollover", help=_("archive last year's class rooms and move classes up a grade")))
    sp.add_argument("--org", required=True)
    sp.add_argument("--roster", help=_("the new year's roster (folder, .zip or class list): it says who is where"))
    sp.add_argument("--year", help=_("the school year being closed, e.g. 2025/26 (default: the one ending now)"))
    sp.add_argument("--dry-run", action="store_true", help=_("show the changes, write nothing"))
    sp.set_defaults(func=cmd_year_rollover)

    accounts = sub.add_parser("accounts", help=_("accounts of roster people")).add_subparsers(
        dest="accounts_command", required=True)
    sp = with_dir(accounts.add_parser("create", help=_("create the accounts of a school's roster people at once")))
    sp.add_argument("--org", required=True)
    sp.add_argument("--people", nargs="*", help=_("only these person ids (default: everyone without an account)"))
    sp.add_argument("--out", default="accounts.csv", help=_("where to write the one-time passwords (CSV)"))
    sp.set_defaults(func=cmd_accounts_create)

    link = sub.add_parser("link", help=_("registration and invite links")).add_subparsers(
        dest="link_command", required=True)
    sp = with_dir(link.add_parser("create", help=_("create a link")))
    sp.add_argument("--org", required=True)
    sp.add_argument("--role", choices=["admin", "head", "teacher", "student", "parent"])
    sp.add_argument("--class", dest="class_id")
    sp.add_argument("--child", help=_("a parent's link: the child's user id"))
    sp.add_argument("--room", action="append", help=_("a chat invite link: a room id (repeatable)"))
    sp.add_argument("--uses", type=int)
    sp.add_argument("--expires-in", type=int, metavar="SECONDS")
    sp.set_defaults(func=cmd_link_create)
    sp = with_dir(link.add_parser("list", help=_("list an organization's links")))
    sp.add_argument("--org", required=True)
    sp.set_defaults(func=cmd_link_list)
    sp = with_dir(link.add_parser("revoke", help=_("revoke a link")))
    sp.add_argument("code")
    sp.set_defaults(func=cmd_link_revoke)

    sp = with_dir(sub.add_parser("codes", help=_("personal codes of a roster, or a printable class sheet")))
    sp.add_argument("--org", required=True)
    sp.add_argument("--class", dest="class_id")
    sp.add_argument("--sheet", choices=["html", "pdf"])
    sp.add_argument("--out")
    sp.set_defaults(func=cmd_codes)

    people = sub.add_parser("people", help=_("people of an organization")).add_subparsers(
        dest="people_command", required=True)
    sp = with_dir(people.add_parser("list", help=_("list the people")))
    sp.add_argument("--org", required=True)
    sp.add_argument("--role")
    sp.set_defaults(func=cmd_people_list)
    for name, func, help_ in (("confirm", cmd_people_confirm, _("confirm a teacher")),
                              ("remove", cmd_people_remove, _("remove a person from the organization"))):
        sp = with_dir(people.add_parser(name, help=help_))
        sp.add_argument("--org", required=True)
        sp.add_argument("person", help=_("a person id or a user id"))
        sp.set_defaults(func=func)
    sp = with_dir(people.add_parser("set", help=_("change a person's role or classes")))
    sp.add_argument("--org", required=True)
    sp.add_argument("person")
    sp.add_argument("--role", choices=["admin", "head", "teacher", "student", "parent"])
    sp.add_argument("--classes", help=_("comma-separated class ids (empty: none)"))
    sp.add_argument("--family", dest="family_name", help=_("a corrected family name (with --given)"))
    sp.add_argument("--given", dest="given_name")
    sp.add_argument("--middle", dest="middle_name")
    sp.set_defaults(func=cmd_people_set)

    poll = sub.add_parser("poll", help=_("polls")).add_subparsers(dest="poll_command", required=True)
    sp = with_dir(poll.add_parser("results", help=_("a poll's results: who answered what, who has not answered")))
    sp.add_argument("room", help=_("the room id"))
    sp.add_argument("event", help=_("the poll's event id"))
    sp.add_argument("--csv", metavar="FILE", help=_("write the results as a CSV file for a spreadsheet"))
    sp.set_defaults(func=cmd_poll_results)
    from spaces_provisioner.cli import office_hours

    office_hours.add_parsers(sub, with_dir)
    from spaces_provisioner.cli import records

    records.add_parsers(sub, with_dir)

    moderation.add_parsers(sub, with_dir)

    sp = sub.add_parser("demo", help=_("a homeserver with demo schools, ready for a Matrix client"))
    sp.add_argument("--port", type=int, default=8008)
    sp.add_argument("--data-dir", default="demo-data")
    sp.add_argument("--school", choices=["small", "medium", "large"], default="small",
                    help=_("size of the generated school A (default: small, ready in about a minute)"))
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(func=cmd_demo)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``parta`` console script; returns the exit code."""
    if argv is None:
        argv = sys.argv[1:]
    # the language must be known before the parser's help texts are translated
    if "--lang" in argv:
        i = argv.index("--lang")
        if i + 1 < len(argv) and argv[i + 1] in ("ru", "en"):
            set_language(argv[i + 1])
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except SettingsError as e:
        print(e, file=sys.stderr)
        return 1
    except ApiError as e:
        print(e.error, file=sys.stderr)
        for d in e.details:
            print(f"  {d}", file=sys.stderr)
        return 1
    except OSError as e:
        if "Cannot connect" in str(e) or isinstance(e, ConnectionError):
            print(_("The provisioning service does not answer; start it with `parta run DIR`"), file=sys.stderr)
            return 1
        raise


if __name__ == "__main__":
    sys.exit(main())
