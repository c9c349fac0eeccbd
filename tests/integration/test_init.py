"""Issue 2: ``parta init`` writes Synapse's own configuration with Parta's settings, once.

Checked on the session's installation (made by ``init_installation``, as ``parta init``
does): the generated ``homeserver.yaml`` keeps Synapse's comments and carries Parta's
privacy, registration and federation settings; running ``parta init`` again changes
nothing; the Parta bot is the only server admin of the running homeserver.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest
from mautrix.api import Method
from ruamel.yaml import YAML

from ..helpers import REPO

pytestmark = pytest.mark.synapse


def homeserver_config(installation) -> dict:
    return YAML(typ="safe").load(installation.homeserver_config.read_text(encoding="utf-8"))


def test_homeserver_config_is_synapses_own_with_partas_settings(installation):
    text = installation.homeserver_config.read_text(encoding="utf-8")
    assert "# Configuration file for Synapse." in text  # Synapse's generated comments stay
    assert "# Parta: " in text                          # and Parta's own explain its settings
    c = homeserver_config(installation)

    # privacy: nobody outside one's rooms is found or looked up
    assert c["user_directory"]["search_all_users"] is False
    assert c["require_auth_for_profile_requests"] is True
    assert c["limit_profile_requests_to_users_who_share_rooms"] is True
    assert c["include_profile_data_on_invite"] is False
    assert c["allow_profile_lookup_over_federation"] is False
    assert c["enable_set_displayname"] is False
    assert c["allow_per_room_profiles"] is False
    assert c["enable_3pid_lookup"] is False
    assert c["room_list_publication_rules"] == [{"action": "deny"}]
    # registration only by token
    assert c["registration_requires_token"] is True
    # no federation
    assert c["federation_domain_whitelist"] == []
    assert modules_config(c)["federation"] == {"partners": []}  # the module's own list says the same
    assert c["trusted_key_servers"] == []
    # (the test installation adds Synapse's metrics listener, tests/conftest.py: not parta init's)
    listeners = [listener for listener in c["listeners"] if listener.get("type") != "metrics"]
    assert len(listeners) == 2
    for listener in listeners:
        names = {n for r in listener["resources"] for n in r["names"]}
        assert "federation" not in names, listener
    public, internal = listeners
    # people's listener: loopback, no X-Forwarded-For trust without a proxy, no Admin API
    assert public["bind_addresses"] == ["127.0.0.1"] and public["x_forwarded"] is False, public
    assert public["additional_resources"]["/_synapse/admin"]["module"] == "synapse_module.ClosedAdminApi"
    # the bot's listener: a Unix socket only the installation's user may open
    assert internal["path"] == str(installation.admin_socket) and internal["mode"] == 0o600, internal
    assert stat.S_IMODE(installation.admin_socket.stat().st_mode) == 0o600 if installation.admin_socket.exists() \
        else True
    assert c["presence"] == {"enabled": False}
    # server notices from Parta's system user (the quiet-hours notice in a direct chat), in Russian
    assert c["server_notices"] == {"system_mxid_localpart": "parta-notices", "system_mxid_display_name": "Parta",
                                   "room_name": "Уведомления Parta"}
    assert modules_config(c)["nudge_secret"] == installation.nudge_secret
    # the module, configured with the bot
    modules = {m["module"]: m.get("config") or {} for m in c["modules"]}
    assert "synapse_module.PartaModule" in modules
    assert modules["synapse_module.PartaModule"]["bot_user_id"] == installation.bot_user_id
    # the database
    if os.environ.get("PARTA_TEST_DB", "sqlite") == "postgres":
        assert c["database"]["name"] == "psycopg2"
        assert c["database"]["args"]["database"].startswith("parta_test_")
    else:
        assert c["database"]["name"] == "sqlite3"
        assert c["database"]["args"]["database"] == str(installation.root / "homeserver.db")
    assert c["server_name"] == installation.server_name
    # parta.yaml holds the bot's token and the operator token: the owner's only
    mode = stat.S_IMODE((installation.root / "parta.yaml").stat().st_mode)
    assert mode == 0o600, oct(mode)
    # the databases (Synapse's, the service's, the bridge's: every pupil's grades) and the logs are the
    # owner's too: the installation directory is closed to other local users
    mode = stat.S_IMODE(installation.root.stat().st_mode)
    assert mode == 0o700, oct(mode)
    for name in ("journal-bridge.yaml", "journal-registration.yaml"):
        assert stat.S_IMODE((installation.root / name).stat().st_mode) == 0o600, name


def modules_config(c: dict) -> dict:
    """The Parta module's ``config`` in a homeserver.yaml."""
    return next(m.get("config") or {} for m in c["modules"] if m["module"] == "synapse_module.PartaModule")


def test_init_again_changes_nothing(installation):
    files = [installation.homeserver_config, installation.root / "parta.yaml"]
    before = {f: f.read_bytes() for f in files}
    listing = sorted(p.name for p in installation.root.iterdir())
    r = subprocess.run([sys.executable, "-m", "spaces_provisioner.cli", "--lang", "en", "init",
                        str(installation.root), "--server-name", installation.server_name],
                       cwd=REPO, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "nothing was changed" in r.stdout, r.stdout
    assert str(installation.root) in r.stdout
    assert {f: f.read_bytes() for f in files} == before
    assert sorted(p.name for p in installation.root.iterdir()) == listing


async def test_the_bot_is_the_only_server_admin(hs):
    someone = await hs.outsider()
    version = await hs.bot.request(Method.GET, "/_synapse/admin/v1/server_version")
    assert version["server_version"].startswith("1.163.")
    admins, users, token = set(), set(), None
    while True:
        query = {"guests": "false", "limit": "500", **({"from": token} if token else {})}
        page = await hs.bot.request(Method.GET, "/_synapse/admin/v2/users", query=query)
        users |= {u["name"] for u in page["users"]}
        admins |= {u["name"] for u in page["users"] if u["admin"]}
        token = page.get("next_token")
        if not token:
            break
    assert {hs.bot.user_id, someone.user_id} <= users
    assert admins == {hs.bot.user_id}
