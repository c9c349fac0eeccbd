"""The image's HEALTHCHECK: exit 0 when ``$PARTA_HEALTH_URL`` answers 200 within 5 seconds, else 1.

Each service sets the URL of its own health endpoint (docker/compose.yaml): Synapse and its workers
``/health`` (Synapse's health resource, on every client listener), the provisioning service
``/api/v1/health``, the journal bridge ``/_parta/journal/health``. Default: Synapse on port 8008.
"""

import os
import sys
import urllib.request

URL = os.environ.get("PARTA_HEALTH_URL", "http://127.0.0.1:8008/health")

try:
    with urllib.request.urlopen(URL, timeout=5) as answer:  # noqa: S310 - a local http URL we set
        sys.exit(0 if answer.status == 200 else 1)
except OSError as e:
    print(f"{URL}: {e}", file=sys.stderr)
    sys.exit(1)
