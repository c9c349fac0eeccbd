"""Accounts: login names that carry no contact details, one-time passwords, creation on Synapse.

A login name (the Matrix ID's localpart) is built from the person's name only,
transliterated with iuliia's Wikipedia scheme (``Ирина Соколова`` →
``irina.sokolova``), with a number added on a clash. Never from a phone number,
an e-mail address or a roster username (rosters often use e-mails as usernames).
"""

from __future__ import annotations

import re
import secrets

import iuliia

from policies.model import FullName

from .matrix import BotClient

#: Characters of one-time passwords: no look-alikes (0/O, 1/l/I).
PASSWORD_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


def login_base(name: FullName) -> str:
    """``given.family`` in lower-case Latin letters, digits, '.', '-' (Matrix localpart grammar).

    Falls back to ``user`` when nothing Latin remains.
    """
    parts = []
    for part in (name.given_name, name.family_name):
        latin = iuliia.WIKIPEDIA.translate(part).lower()
        latin = re.sub(r"[^a-z0-9]+", "-", latin).strip("-")
        if latin:
            parts.append(latin)
    return ".".join(parts)[:40] or "user"


def one_time_password(groups: int = 4, size: int = 4) -> str:
    """A random password such as ``k7mq-3xhe-p9tw-2vna`` (about 79 bits), read aloud easily."""
    return "-".join("".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(size)) for _ in range(groups))


async def choose_user_id(bot: BotClient, server_name: str, name: FullName, reserved: set[str]) -> str:
    """A free user id for ``name``: ``@given.family:server``, then ``...2``, ``...3``...

    ``reserved`` holds ids already promised in the provisioning database.
    """
    base = login_base(name)
    n = 1
    while True:
        user_id = f"@{base}{n if n > 1 else ''}:{server_name}"
        if user_id not in reserved and await bot.get_user(user_id) is None:
            return user_id
        n += 1


async def ensure_account(bot: BotClient, user_id: str, display_name: str) -> str | None:
    """Create the account when it does not exist; returns its new one-time password, else None.

    Keeps the server-set display name in step (``enable_set_displayname: false``).
    """
    existing = await bot.get_user(user_id)
    if existing is None:
        password = one_time_password()
        await bot.put_user(user_id, {"password": password, "displayname": display_name, "admin": False})
        return password
    if existing.get("displayname") != display_name:
        await bot.set_displayname(user_id, display_name)
    return None
