"""``parta org settings``: an organization's settings after approval (issue 14), through the running
provisioning service.

::

    parta org settings ORG                                  [--json] [--token TOKEN] [-d DIR]
    parta org settings ORG --set key=value [--set ...]      [--json] [--token TOKEN] [-d DIR]

Without ``--set`` it shows every changeable setting, its value and its default
(``GET /organizations/{org}/settings``); with ``--set`` it changes them
(``PATCH /organizations/{org}/settings``: validated, stored, audited, the rooms reconciled).
``value`` is read as YAML: ``true``, ``12``, ``null``, ``[student, parent]``,
``{days: [1, 2, 3, 4, 5], from: "08:00", to: "20:00"}``; anything else is text.
With the operator's token (the default) or ``--token``/``$PARTA_TOKEN``: the school administrator's own.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any
from urllib.parse import quote

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from policies.i18n import _


def parse_assignment(text: str) -> tuple[str, Any]:
    """``key=value`` -> (key, value read as YAML); argparse.ArgumentTypeError naming the fix otherwise."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(_("'{value}' is not key=value, e.g. "
                                           "teachers_may_post_announcements=true").format(value=text))
    try:
        value = YAML(typ="safe").load(raw) if raw.strip() else None
    except YAMLError as e:
        raise argparse.ArgumentTypeError(_("the value of '{key}' cannot be read: {error}").format(
            key=key.strip(), error=str(e).splitlines()[0])) from e
    return key.strip(), value


def cmd_org_settings(args) -> int:
    """``parta org settings ORG [--set key=value ...]``: prints the settings in force."""
    from spaces_provisioner.cli.main import _show, _with_api

    path = f"/organizations/{quote(args.org, safe='')}/settings"
    if args.set:
        body = dict(args.set)
        call = _with_api(args, lambda api: api.call("PATCH", path, json=body))
    else:
        call = _with_api(args, lambda api: api.call("GET", path))
    result = asyncio.run(call)

    def human(r: dict) -> None:
        if r.get("changed") is not None:
            print(_("Changed: {names}").format(names=", ".join(r["changed"]) or "-"))
        for s in r["settings"]:
            mark = "" if s["own"] else _(" (default)")
            print(f"{s['key']}: {json.dumps(s['value'], ensure_ascii=False)}{mark}"
                  f"  [{_('default')}: {json.dumps(s['default'], ensure_ascii=False)}]")

    return _show(args, result, human)


def add_parser(org, with_dir) -> None:
    """The ``settings`` command on ``parta org``'s subcommands ``org``."""
    sp = with_dir(org.add_parser("settings", help=_("show or change an organization's settings")))
    sp.add_argument("org", help=_("the organization's id"))
    sp.add_argument("--set", action="append", type=parse_assignment, default=[], metavar="KEY=VALUE",
                    help=_("change a setting (repeatable), e.g. --set teachers_may_post_announcements=true"))
    sp.set_defaults(func=cmd_org_settings)
