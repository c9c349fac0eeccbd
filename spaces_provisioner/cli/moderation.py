"""``parta audit``, ``parta reports`` and ``parta moderation``: the audit log, the reports a school received
and the administration's actions on them, through the running provisioning service.

::

    parta audit --org ORG [--actor USER] [--action ACTION|PREFIX.] [--since T] [--until T] [--limit N]
                [--before ID] [-d DIR] [--json] [--token TOKEN]
    parta reports --org ORG [--limit N] [-d DIR] [--json] [--token TOKEN]
    parta moderation redact|kick|ban|remove --org ORG (--report ID | --room ROOM [--event EVENT] [--user USER])
                [--reason TEXT] [-d DIR] [--json] [--token TOKEN]

The operator's token is used unless ``--token`` (or ``$PARTA_TOKEN``) gives a person's own: the
school's administrator and head see their own school only.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from urllib.parse import quote

from policies.i18n import _


def _org_path(org: str, tail: str) -> str:
    return f"/organizations/{quote(org, safe='')}/{tail}"


def cmd_audit(args) -> int:
    """Print the organization's audit log (newest first), a line an entry, or ``--json``."""
    from spaces_provisioner.cli.main import _show, _with_api

    query = {k: str(v) for k, v in {"actor": args.actor, "action": args.action, "since": args.since,
                                    "until": args.until, "limit": args.limit, "before": args.before}.items() if v}
    result = asyncio.run(_with_api(args, lambda api: api.call("GET", _org_path(args.org, "audit"), query=query)))

    def human(r: dict) -> None:
        for e in r["entries"]:
            detail = json.dumps(e["detail"], ensure_ascii=False, sort_keys=True)
            print(f"{e['time']}\t{e['actor']}\t{e['action']}\t{e['origin'] or '-'}\t{detail}")
        if r.get("next"):
            print(_("More: --before {id}").format(id=r["next"]))

    return _show(args, result, human)


def cmd_reports(args) -> int:
    """Print the reports the organization's moderation room received."""
    from spaces_provisioner.cli.main import _show, _with_api

    result = asyncio.run(_with_api(args, lambda api: api.call("GET", _org_path(args.org, "reports"),
                                                              query={"limit": str(args.limit)})))

    def human(r: dict) -> None:
        for rep in r["reports"]:
            print(f"{rep['id']}\t{rep['received']}\t{rep['reporter']}\t{rep['room_id'] or '-'}\t"
                  f"{rep['user_id'] or '-'}\t{rep['reason']}\t{rep['content'] or ''}")

    return _show(args, result, human)


def cmd_moderation(args) -> int:
    """Act on a report: redact the message, kick or ban from the room, remove from the school."""
    from spaces_provisioner.cli.main import _show, _with_api

    body = {k: v for k, v in {"action": args.moderation_command, "report": args.report, "room_id": args.room,
                              "event_id": args.event, "user_id": args.user, "reason": args.reason}.items() if v}
    result = asyncio.run(_with_api(args, lambda api: api.call("POST", _org_path(args.org, "moderation"), json=body)))
    return _show(args, result, lambda r: print(_("Done: {action}").format(action=r["action"])))


def add_parsers(sub, with_dir: Callable) -> None:
    """Add ``audit``, ``reports`` and ``moderation`` to ``parta``'s sub-commands (``with_dir`` adds -d, --json,
    --token)."""
    sp = with_dir(sub.add_parser("audit", help=_("an organization's audit log: who did what, when, from where")))
    sp.add_argument("--org", required=True)
    sp.add_argument("--actor", help=_("only this user id (or 'operator')"))
    sp.add_argument("--action", help=_("only this action, or actions starting with a prefix ending in '.'"))
    sp.add_argument("--since", help=_("from this time (ISO 8601)"))
    sp.add_argument("--until", help=_("up to this time (ISO 8601)"))
    sp.add_argument("--limit", type=int, default=100)
    sp.add_argument("--before", type=int, help=_("the next page: entries before this id"))
    sp.set_defaults(func=cmd_audit)

    sp = with_dir(sub.add_parser("reports", help=_("reports the organization's moderation room received")))
    sp.add_argument("--org", required=True)
    sp.add_argument("--limit", type=int, default=50)
    sp.set_defaults(func=cmd_reports)

    mod = sub.add_parser("moderation", help=_("act on a report")).add_subparsers(dest="moderation_command",
                                                                                   required=True)
    for name, help_ in (("redact", _("remove the reported message")), ("kick", _("take the person out of the room")),
                        ("ban", _("ban the person from the room")), ("remove", _("remove the person from the school"))):
        sp = with_dir(mod.add_parser(name, help=help_))
        sp.add_argument("--org", required=True)
        sp.add_argument("--report", help=_("the report's id (event:17, user:3)"))
        sp.add_argument("--room")
        sp.add_argument("--event")
        sp.add_argument("--user")
        sp.add_argument("--reason")
        sp.set_defaults(func=cmd_moderation)
