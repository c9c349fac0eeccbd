"""Issue 11: files stay inside the school. A file posted in the class chat is downloaded (and its
thumbnail seen) by a classmate, the uploader and the Parta bot, over real requests to the running
Synapse with Parta (``synapse_module.media_access``); and what the check costs per download.
The attacks on the same rule are in ``test_media_attacks.py``; the world in ``media_world.py``.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import AsyncIterator

import pytest

from ..helpers import User
from .media_world import World, download, fetch, make_world, served, thumbnail

pytestmark = pytest.mark.synapse


@pytest.fixture(scope="module")
async def w(hs, tmp_path_factory) -> AsyncIterator[World]:
    world = await make_world(hs, tmp_path_factory.mktemp("media-access"))
    yield world
    await world.bot.close()


async def test_a_classmate_downloads_the_teachers_file_and_a_thumbnail(w):
    served(await download(w.classmate, w.files["sheet"]), w.files["sheet_bytes"])
    served(await download(w.classmate, w.files["photo"]), w.files["photo_bytes"])
    thumb = served(await thumbnail(w.classmate, w.files["photo"]))
    assert thumb[:8] == b"\x89PNG\r\n\x1a\n" and thumb != w.files["photo_bytes"]  # a thumbnail Synapse made
    served(await download(w.teacher, w.files["sheet"]), w.files["sheet_bytes"])  # the uploader
    served(await download(w.bot, w.files["sheet"]), w.files["sheet_bytes"])      # the school's bot


# -- cost ---------------------------------------------------------------------------------
async def test_the_check_costs_little_per_download(w):
    """Downloads of the same file by a classmate (the full check: the table's rooms, the member's
    rooms) against the bot's (the check stops at its first comparison: the check off), interleaved
    in the same run; and the check's own CPU per download from the module's meter."""
    async def stats() -> tuple[int, int, int]:
        status, _b, data = await fetch(w.bot, "/_synapse/client/parta/stats")
        assert status == 200, data
        mine = data["callbacks"].get("media_download", {"calls": 0, "cpu_ns": 0})
        return mine["calls"], mine["cpu_ns"], data["process_cpu_ns"]

    async def timed(u: User, n: int) -> list[float]:
        out = []
        for _ in range(n):
            t = time.perf_counter()
            served(await download(u, w.files["sheet"]))
            out.append(time.perf_counter() - t)
        return out

    await timed(w.classmate, 5)
    await timed(w.bot, 5)
    checked, unchecked = [], []
    calls = check_ns = process_ns = 0
    for _ in range(10):
        before = await stats()
        checked += await timed(w.classmate, 20)
        after = await stats()
        calls, check_ns, process_ns = (calls + after[0] - before[0], check_ns + after[1] - before[1],
                                       process_ns + after[2] - before[2])
        unchecked += await timed(w.bot, 20)
    ratio = statistics.median(checked) / statistics.median(unchecked)
    print(f"\nmedia download: checked (classmate) {statistics.median(checked) * 1000:.2f} ms, "
          f"check off (bot) {statistics.median(unchecked) * 1000:.2f} ms, ratio {ratio:.3f}; "
          f"the check {check_ns / calls / 1000:.0f} µs CPU per download, "
          f"{100 * check_ns / process_ns:.2f} % of Synapse's CPU over {calls} downloads")
    assert calls == 200
    assert ratio < 1.5, ratio
