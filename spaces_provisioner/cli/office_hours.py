"""``parta office-hours``: a teacher's office hours (quiet hours), through the running provisioning service.

::

    parta office-hours show USER                                      [--json] [--token TOKEN] [-d DIR]
    parta office-hours set USER --days 1-5 --from 08:00 --to 20:00    [--json] [--token TOKEN] [-d DIR]
    parta office-hours clear USER                                     [--json] [--token TOKEN] [-d DIR]

``USER`` is the teacher's Matrix user id. With the operator's token (the default) any teacher's hours;
with ``--token`` (or ``$PARTA_TOKEN``) a person's own Matrix token: a teacher's own, the school
administration's for its teachers (``GET``/``PUT /users/{user}/office-hours``). ``clear``: the
school's default (the organization's ``office_hours`` setting) applies again.
"""

from __future__ import annotations

import asyncio
from urllib.parse import quote

from policies.i18n import _


def parse_days(text: str) -> list[int]:
    """``1-5``, ``1,3,5`` or ``1-5,7`` -> sorted ISO weekdays; ValueError for anything else."""
    days: set[int] = set()
    for part in text.replace(" ", "").split(","):
        first, _sep, last = part.partition("-")
        days.update(range(int(first), int(last or first) + 1))
    if not days or not days <= set(range(1, 8)):
        raise ValueError(text)
    return sorted(days)


def cmd_office_hours(args) -> int:
    """``parta office-hours show|set|clear USER``: prints the hours in force."""
    from spaces_provisioner.cli.main import _show, _with_api

    path = f"/users/{quote(args.user, safe='')}/office-hours"
    if args.office_hours_command == "show":
        call = _with_api(args, lambda api: api.call("GET", path))
    else:
        body = {} if args.office_hours_command == "clear" else {
            "days": args.days, "from": getattr(args, "from"), "to": args.to}
        call = _with_api(args, lambda api: api.call("PUT", path, json=body))
    result = asyncio.run(call)

    def human(r: dict) -> None:
        text = r["text"] or _("none: messages notify at any time")
        print(_("Office hours of {user}: {hours} ({zone})").format(user=r["user_id"], hours=text,
                                                                 zone=r["timezone"] or "-"))
        if r["own"] is None and r["office_hours"] is not None:
            print(_("(the school's default)"))

    return _show(args, result, human)


def add_parsers(sub, with_dir) -> None:
    """The ``office-hours`` command on the ``parta`` parser's subcommands ``sub``."""
    oh = sub.add_parser("office-hours", help=_("a teacher's office hours (quiet hours)")).add_subparsers(
        dest="office_hours_command", required=True)
    for name, help_text in (("show", _("show a teacher's office hours")), ("set", _("set a teacher's office hours")),
                            ("clear", _("clear a teacher's own office hours (the school's default applies)"))):
        sp = with_dir(oh.add_parser(name, help=help_text))
        sp.add_argument("user", help=_("the teacher's Matrix user id"))
        if name == "set":
            sp.add_argument("--days", type=parse_days, default=[1, 2, 3, 4, 5],
                            help=_("weekdays, 1 = Monday: 1-5, 1-6 or 1,3,5 (default 1-5)"))
            sp.add_argument("--from", required=True, metavar="HH:MM")
            sp.add_argument("--to", required=True, metavar="HH:MM")
        sp.set_defaults(func=cmd_office_hours)
