"""``parta export`` and ``parta retention run``: the school's records, through the running provisioning service.

::

    parta export --org ID ROOM [--format json|pdf|html] [--out FILE] [--token TOKEN] [-d DIR]
    parta retention run --org ID [--dry-run] [--json] [-d DIR]

``parta export`` writes the room's history (``GET /organizations/{org}/rooms/{room}/export``) to ``--out``
(default: ``<room>.<format>`` in the current folder); ``parta retention run`` purges (or, ``--dry-run``,
lists) the archived class rooms whose retention ran out (``POST /organizations/{org}/retention``).
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from urllib.parse import quote

from policies.i18n import _


def cmd_export(args) -> int:
    """``parta export``: the room's history written to a file; prints the file's name."""
    from spaces_provisioner.cli.main import _with_api

    path = f"/organizations/{quote(args.org, safe='')}/rooms/{quote(args.room, safe='')}/export"
    data = asyncio.run(_with_api(args, lambda api: api.call("GET", path, raw=True, query={"format": args.format})))
    out = Path(args.out or f"{re.sub(r'[^A-Za-z0-9._-]+', '_', args.room).strip('_')}.{args.format}")
    out.write_bytes(data)
    print(_("The room's history is written to {path}").format(path=out))
    return 0


def cmd_retention_run(args) -> int:
    """``parta retention run``: the archived class rooms purged (or listed with ``--dry-run``)."""
    from spaces_provisioner.cli.main import _show, _with_api

    path = f"/organizations/{quote(args.org, safe='')}/retention"
    result = asyncio.run(_with_api(args, lambda api: api.call("POST", path,
                                                              query={"dry_run": "true"} if args.dry_run else None)))

    def human(r: dict) -> None:
        months = r["archived_months"]
        print(_("Retention of {org}: archived class rooms are kept {months} months after their school year ends "
                "({end})").format(org=r["org"], months="∞" if months is None else months, end=r["school_year_end"]))
        title = _("Would be purged (nothing written yet):") if r["dry_run"] else _("Purged:")
        print(title if r["due"] else _("Nothing is due."))
        for room in r["due"]:
            print(f"  {room['year']}\t{room['name']}\t{room['room_id']}\t"
                  + _("messages: {n}, files: {m}").format(n=room["messages"], m=room["media"]))
        for room in r["kept"]:
            print(_("  kept until {date}: {name}").format(date=room["purge_after"] or "∞", name=room["name"]))
        if r.get("direct_chats_months") is not None:
            print(_("People's own chats: messages older than {months} months go ({n} chats)").format(
                months=r["direct_chats_months"], n=len(r["chats"])))
            for chat in r["chats"]:
                print(f"  {chat['kind']}\t{chat['room_id']}\t"
                      + _("messages: {n}, files: {m}").format(n=chat["messages"], m=chat["media"]))

    return _show(args, result, human)


def add_parsers(sub, with_dir) -> None:
    """The ``export`` and ``retention`` commands on the ``parta`` parser's subcommands ``sub``."""
    sp = with_dir(sub.add_parser("export", help=_("a room's history for the school's records (JSON, PDF, HTML)")))
    sp.add_argument("--org", required=True)
    sp.add_argument("room", help=_("the room id"))
    sp.add_argument("--format", choices=["json", "pdf", "html"], default="pdf")
    sp.add_argument("--out", metavar="FILE")
    sp.set_defaults(func=cmd_export)
    retention = sub.add_parser("retention", help=_("retention per school year")).add_subparsers(
        dest="retention_command", required=True)
    sp = with_dir(retention.add_parser("run", help=_("purge the archived class rooms whose retention ran out")))
    sp.add_argument("--org", required=True)
    sp.add_argument("--dry-run", action="store_true", help=_("only list what would be purged"))
    sp.set_defaults(func=cmd_retention_run)
