"""The image's HEALTHCHECK: exit 0 when the container's process answers 200 within 5 seconds, else 1.

Which URL: ``$PARTA_HEALTH_URL`` when set (docker/compose.yaml sets it per service: Synapse's
``/health``, the provisioning service's ``/api/v1/health``, the journal bridge's
``/_parta/journal/health``); else, for a Synapse worker (``$PARTA_WORKER``, docker/compose.workers.yaml),
``/health`` on the port of its first HTTP listener in ``/data/workers/NAME.yaml`` (written by
``parta init --workers`` on a free port); else Synapse's main process on port 8008.
"""

import os
import sys
import urllib.request
from pathlib import Path


def worker_url(name: str) -> str:
    """``http://127.0.0.1:PORT/health`` of worker ``name`` (its worker_listeners in DIR/workers/NAME.yaml)."""
    from ruamel.yaml import YAML  # Parta's dependency, in the image's environment

    path = Path(os.environ.get("PARTA_DIR", "/data")) / "workers" / f"{name}.yaml"
    data = YAML(typ="safe").load(path.read_text(encoding="utf-8")) or {}
    port = next(listener["port"] for listener in data.get("worker_listeners") or []
                if listener.get("type") == "http" and listener.get("port"))
    return f"http://127.0.0.1:{port}/health"


def main() -> int:
    try:
        url = os.environ.get("PARTA_HEALTH_URL") or (
            worker_url(os.environ["PARTA_WORKER"]) if os.environ.get("PARTA_WORKER")
            else "http://127.0.0.1:8008/health")
        with urllib.request.urlopen(url, timeout=5) as answer:  # noqa: S310 - a local http URL
            return 0 if answer.status == 200 else 1
    except (OSError, StopIteration, KeyError) as e:
        print(f"unhealthy: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
