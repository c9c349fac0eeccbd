"""Where the roster samples written by others live: ``shared/data/rosters`` next to the repository.

They are never copied into the project (see PROVENANCE.md there). Looked up, in order:
``$PARTA_SAMPLES`` (the ``rosters`` folder itself), ``../shared/data/rosters`` next to
this checkout, and the same next to the repository this checkout was cloned from.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def shared_rosters_dir() -> Path | None:
    """The folder holding ``sds-v2.1-sample/`` and ``oneroster-v1p2-sample/``, or None."""
    candidates = []
    if os.environ.get("PARTA_SAMPLES"):
        candidates.append(Path(os.environ["PARTA_SAMPLES"]))
    roots = [REPO]
    try:
        origin = subprocess.run(["git", "-C", str(REPO), "remote", "get-url", "origin"],
                                capture_output=True, text=True, timeout=5).stdout.strip()
        if origin and Path(origin).exists():
            roots.append(Path(origin).resolve())
    except (OSError, subprocess.SubprocessError):
        pass
    candidates += [r.parent / "shared" / "data" / "rosters" for r in roots]
    return next((c for c in candidates if (c / "sds-v2.1-sample" / "users.csv").exists()), None)
