"""Group lessons (Element Call / MatrixRTC): Synapse's settings and the LiveKit keys in ``parta.yaml``.

Element Call finds its LiveKit SFU through the homeserver: ``GET /_matrix/client/unstable/
org.matrix.msc4143/rtc/transports`` (``experimental_features.msc4143_enabled``, answered from
``matrix_rtc.transports``: Synapse ``config/matrixrtc.py``, ``rest/client/matrixrtc.py``), older
clients through ``org.matrix.msc4143.rtc_foci`` in ``/.well-known/matrix/client``
(``extra_well_known_client_content``). Each transport names the SFU (``url``, a wss URL) and the
token service (``livekit_service_url``), which is Parta's own (``api/calls.py``: LiveKit's stock
lk-jwt-service checks no room membership). MatrixRTC also wants ``msc4222_enabled`` (sync's
``state_after``: ``config/experimental.py``), delayed events (MSC4140: on when
``max_event_delay_duration`` is set, ``config/server.py``) so that a call membership ends when
its client vanishes, and the rate limits Element Call's self-hosting guide gives
(``rc_message`` for key sharing, ``rc_delayed_event_mgmt`` for the heart-beat of the delayed leave).

The LiveKit API key and secret (they sign the tokens; the SFU checks them) are generated into
``parta.yaml`` (0600) as ``livekit: {url, api_key, api_secret}``; ``url`` defaults to
:func:`default_livekit_url`.
"""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from ruamel.yaml import YAML

from spaces_provisioner.settings import Settings

#: The path of the token service under the provisioning service's public address (``api/calls.py``):
#: Element Call calls ``{livekit_service_url}/sfu/get`` and ``{livekit_service_url}/get_token``.
SERVICE_PATH = "/api/v1/livekit"
#: LiveKit's default port for its WebSocket signalling (a dev installation without a proxy).
LIVEKIT_PORT = 7880
#: The longest a delayed event may wait (Element Call's guide: a day).
MAX_EVENT_DELAY = "24h"
#: Element Call's rate limits (its self-hosting guide, also in Element's ess-helm chart).
RATE_LIMITS: dict[str, dict[str, float]] = {
    "rc_message": {"per_second": 0.5, "burst_count": 30},
    "rc_delayed_event_mgmt": {"per_second": 1, "burst_count": 20},
}


def default_livekit_url(public_baseurl: str) -> str:
    """The SFU's WebSocket URL when ``parta.yaml`` names none: behind HTTPS the reverse proxy's
    ``wss://HOST/livekit/sfu`` (``config/nginx.conf`` forwards it to LiveKit on port 7880), else
    LiveKit itself on ``ws://HOST:7880``."""
    parts = urlsplit(public_baseurl)
    if parts.scheme == "https":
        return f"wss://{parts.netloc}/livekit/sfu"
    return f"ws://{parts.hostname or '127.0.0.1'}:{LIVEKIT_PORT}"


def livekit_service_url(settings: Settings) -> str:
    """Where clients reach Parta's token service: the provisioning service's public address + :data:`SERVICE_PATH`."""
    return settings.public_url + SERVICE_PATH


def configure_livekit(settings: Settings, public_baseurl: str, livekit_url: str | None = None,
                      old: Settings | None = None) -> None:
    """Fill ``settings``' LiveKit URL and keys: ``livekit_url``, else the old installation's, else the
    default; the old key and secret, else new ones (a 16-character key, a 32-byte secret)."""
    settings.livekit_url = livekit_url or (old.livekit_url if old else "") or default_livekit_url(public_baseurl)
    settings.livekit_api_key = (old.livekit_api_key if old else "") or "API" + secrets.token_hex(6)
    settings.livekit_api_secret = (old.livekit_api_secret if old else "") or secrets.token_urlsafe(32)


def transports(settings: Settings) -> list[dict]:
    """``matrix_rtc.transports``: one LiveKit transport with both the SFU and the token service."""
    return [{"type": "livekit", "url": settings.livekit_url, "livekit_service_url": livekit_service_url(settings)}]


def configure_matrix_rtc(settings: Settings) -> None:
    """Add Element Call's settings to ``homeserver.yaml`` in place (comments kept, other
    experimental features kept)."""
    path = settings.homeserver_config
    y = YAML()
    data = y.load(path.read_text(encoding="utf-8"))
    features = data.get("experimental_features") or {}
    features.update({"msc4143_enabled": True, "msc4222_enabled": True})
    data["experimental_features"] = features
    data["matrix_rtc"] = {"transports": transports(settings)}
    data.yaml_set_comment_before_after_key(
        "matrix_rtc", before="Parta: group lessons (Element Call): the LiveKit SFU and Parta's token service, "
        "which gives tokens only to members of the room (only teachers start a call)")
    data["extra_well_known_client_content"] = {
        **(data.get("extra_well_known_client_content") or {}),
        "org.matrix.msc4143.rtc_foci": [{"type": "livekit", "livekit_service_url": livekit_service_url(settings)}],
    }
    data["max_event_delay_duration"] = MAX_EVENT_DELAY
    for key, value in RATE_LIMITS.items():
        data[key] = dict(value)
    with path.open("w", encoding="utf-8") as f:
        y.dump(data, f)
