"""Is the bcrypt floor of issue 9 reachable at all? Synapse's own CPU per account and per join.

Issue 9 asks accounts for a whole school (and 300 registrations at once) within 1.5 times the
time of as many bcrypt hashes spread over the machine's cores. This benchmark measures, in CPU
seconds (``/proc/PID/stat`` utime + stime, so other load on a shared machine does not move the
figures), what each person costs:

1. ``bcrypt``: one hash at Synapse's configured rounds, CPU of this process (``time.process_time``).
2. ``vanilla``: Synapse 1.163 from ``parta init``'s configuration with the ``modules`` section
   removed (SQLite, rate limits relaxed as ``bench/module_overhead.make_installation`` does,
   bcrypt at the configured rounds), no provisioning service. Measured: CPU of the Synapse process
   per account registration (Admin API shared-secret registration, which hashes the password),
   per restricted join (one ``m.room.member`` event, as Parta's placement sends it) into rooms of
   about 30 and about 60 members, and per join of a space growing from 0 to all the users. With
   ``--profile``, py-spy samples Synapse during the joins and the samples are grouped by the part
   of Synapse they are in (printed as a table; no file is kept).
3. ``parta``: an installation with Parta's module (``make_installation(..., True)``), a school from
   the project's generator imported and every account created and placed by the provisioning
   service (``POST /organizations/{org}/accounts``, as ``bench/provision.py`` does). Measured: CPU
   of Synapse and of the provisioning service, the module's own callbacks' CPU
   (``/_synapse/client/parta/stats``), and the rooms each person ended up in.

The budget per person at ratio 1.5 is 1.5 × (hash CPU / cores) of wall time, i.e. 1.5 × hash CPU of
CPU over all cores, of which the hash itself takes one; and Synapse's Python runs on one core (the
interpreter lock), so its own non-hashing work must also fit in 1.5 × hash CPU / cores.
Last line: ``bcrypt_cpu_s=… budget_cpu_s=… vanilla_register_cpu_s=… vanilla_join30_cpu_s=…
vanilla_join60_cpu_s=… parta_person_cpu_s=… parta_join_cpu_s=… module_share=…``.

Run: ``.venv/bin/python bench/join_floor.py [--joins 200] [--concurrency 8] [--size classes4]
[--profile] [--skip-parta] [--skip-vanilla]`` (py-spy: ``pip install py-spy``; the CPU figures do not
depend on other load, the wall time does: about 10 minutes on an idle 2-core machine, 40 on a busy one).
With ``--profile`` on the Parta side, samples with a module callback anywhere on the stack count as
"Parta callbacks", so they include the Synapse work those callbacks call (the module's own meter
counts only its code).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import hashlib
import hmac
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import bcrypt

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from module_overhead import make_installation, module_stats  # noqa: E402
from provision import build_school, cpu_s, synapse_bcrypt_rounds  # noqa: E402

from spaces_provisioner.api.client import ApiClient  # noqa: E402
from spaces_provisioner.homeserver.bot import BotClient  # noqa: E402
from spaces_provisioner.homeserver.config_file import read_synapse_config  # noqa: E402
from spaces_provisioner.install.processes import start_synapse  # noqa: E402
from spaces_provisioner.install.supervisor import running  # noqa: E402
from spaces_provisioner.roster.generate import SIZES, SchoolSize, generate_school, write_oneroster  # noqa: E402
from spaces_provisioner.roster.source import zip_folder  # noqa: E402
from spaces_provisioner.settings import Settings  # noqa: E402

V = "/_matrix/client/v3"
PASSWORD = "correct horse battery staple 42"
CORES = os.cpu_count() or 1
#: The Parta side's schools: the generator's, and "classes4": four classes of real size (23-26
#: pupils, as bench/provision.py's baseline school), so class rooms have ~30 and ~60 members.
SCHOOLS = {**SIZES, "classes4": SchoolSize((5, 6), 2, (23, 26))}

#: Where a py-spy sample is, by the first marker found in its stack (checked in this order):
#: the callers decide the phase (storage reads inside event creation count as event creation).
GROUPS: list[tuple[str, tuple[str, ...]]] = [
    ("Parta callbacks", ("synapse_module",)),
    ("push rule evaluation", ("push/bulk_push_rule_evaluator", "push_rule_evaluator", "synapse_rust", "push/")),
    ("user directory", ("user_directory",)),
    ("replication/notifier", ("notifier.py", "replication/", "handlers/presence", "stream_change_cache")),
    ("event creation/auth", ("create_event", "create_new_client_event", "event_auth", "events/builder",
                             "crypto/event_signing", "_calculate_event_auth", "compute_event_context",
                             "calculate_context_info", "check_auth_rules")),
    ("persistence/state", ("persist_events", "storage/databases/main/events.py", "synapse/state/",
                           "state_group", "storage/controllers/state", "event_push_actions")),
    ("room membership handler", ("handlers/room_member",)),
    ("HTTP/JSON/auth of requests", ("synapse/http/", "synapse/rest/", "twisted/web", "api/auth")),
    ("database (other)", ("storage/database.py", "sqlite3")),
    ("metrics/logging/caching", ("synapse/metrics", "synapse/logging", "synapse/util/caches", "prometheus")),
]


def hash_cpu(rounds: int, n: int = 4) -> float:
    """CPU seconds of one bcrypt hash at ``rounds`` (mean of ``n``, this thread only)."""
    start = time.process_time()
    for _ in range(n):
        bcrypt.hashpw(b"x" * 16, bcrypt.gensalt(rounds))
    return (time.process_time() - start) / n


class Synapse:
    """The Synapse process's CPU meter and a shared HTTP session."""

    def __init__(self, url: str, pid: int, session: aiohttp.ClientSession, admin: aiohttp.ClientSession):
        self.url, self.pid, self.session, self.admin = url, pid, session, admin

    async def call(self, method: str, path: str, token: str | None = None, body: dict | None = None) -> dict:
        """A request; the Admin API goes to the admin listener (a Unix socket in Parta's configuration)."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        session, url = (self.admin, "http://localhost") if path.startswith("/_synapse/admin") else \
            (self.session, self.url)
        for attempt in range(5):
            async with session.request(method, url + path, json=body, headers=headers) as r:
                data = await r.json(content_type=None)
                if r.status == 429 and attempt < 4:  # should not happen with relaxed limits
                    await asyncio.sleep(1)
                    continue
                if r.status >= 400:
                    raise RuntimeError(f"{method} {path}: {r.status} {data}")
                return data
        raise AssertionError("unreachable")


async def gather_limited(n: int, coros) -> list:
    sem = asyncio.Semaphore(n)

    async def one(c):
        async with sem:
            return await c
    return list(await asyncio.gather(*(one(c) for c in coros)))


async def settle(pid: int, timeout: float = 60.0) -> None:
    """Until ``pid`` is idle (under 2 % of a core over half a second): Synapse finishes some of a
    join's work after answering (the user directory, notifications), and that work is the join's too."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        before = cpu_s(pid)
        await asyncio.sleep(0.5)
        if cpu_s(pid) - before < 0.01:
            return


async def cpu_of(pid: int, coro) -> tuple[float, float, object]:
    """(CPU s of ``pid``, wall s, result) of awaiting ``coro`` and the work it left behind."""
    await settle(pid)
    before, start = cpu_s(pid), time.perf_counter()
    out = await coro
    wall = time.perf_counter() - start
    await settle(pid)
    return cpu_s(pid) - before, wall, out


def start_profile(pid: int, out: Path) -> subprocess.Popen | None:
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists():
        print("  (py-spy not installed: no profile; pip install py-spy)")
        return None
    # --nonblocking: the sampled process is never paused, so its CPU figures stay its own; --gil:
    # only the thread holding the interpreter lock, i.e. the one core Synapse's Python runs on
    # (bcrypt and SQLite's C code release the lock and are left out; waiting threads too)
    return subprocess.Popen([spy, "record", "--pid", str(pid), "--format", "raw", "--output", str(out),
                             "--rate", "200", "--nonblocking", "--gil"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop_profile(spy: subprocess.Popen | None, out: Path) -> None:
    """Stop py-spy and print its samples grouped by ``GROUPS`` (share of all non-idle samples)."""
    if spy is None:
        return
    spy.send_signal(signal.SIGINT)
    spy.wait(60)
    if not out.exists():
        print("  (py-spy wrote nothing)")
        return
    groups: collections.Counter[str] = collections.Counter()
    leaves: collections.Counter[str] = collections.Counter()
    for line in out.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        frames = stack.split(";")
        name = next((g for g, marks in GROUPS if any(m in f for f in frames for m in marks)), "other")
        groups[name] += n
        leaves[frames[-1].split(" (")[0] + " " + frames[-1].rsplit("/", 1)[-1].rstrip(")")] += n
    total = sum(groups.values()) or 1
    print(f"  py-spy: {total} samples of the thread holding Synapse's interpreter lock")
    print(f"  {'part of Synapse':<30} share")
    for g, n in groups.most_common():
        print(f"  {g:<30} {n / total:6.1%}")
    print("  hottest leaf functions:")
    for f, n in leaves.most_common(12):
        print(f"    {n / total:6.1%}  {f}")


async def vanilla(settings: Settings, args) -> dict:
    """Registrations and joins on Synapse without Parta; CPU of the Synapse process per operation."""
    secret = read_synapse_config(settings.homeserver_config)["registration_shared_secret"]
    synapse_service = start_synapse(settings.homeserver_config, settings.homeserver_url, settings.logs_dir)
    out: dict = {}
    try:
        synapse_service.wait_healthy(180)
        async with aiohttp.ClientSession() as session, \
                aiohttp.ClientSession(connector=aiohttp.UnixConnector(path=str(settings.admin_socket))) as admin:
            hs = Synapse(settings.homeserver_url, synapse_service.process.pid, session, admin)
            bot = settings.bot_access_token
            rooms_per_size = 8
            base = {30: 20, 60: 50}  # members before the measured joins: each room gains joins/8
            fill = max(base.values())

            async def register(localpart: str) -> str:
                nonce = (await hs.call("GET", "/_synapse/admin/v1/register"))["nonce"]
                mac = hmac.new(secret.encode(), digestmod=hashlib.sha1)
                mac.update(b"\x00".join([nonce.encode(), localpart.encode(), PASSWORD.encode(), b"notadmin"]))
                r = await hs.call("POST", "/_synapse/admin/v1/register", body={
                    "nonce": nonce, "username": localpart, "password": PASSWORD, "mac": mac.hexdigest(),
                    "admin": False})
                return r["access_token"]

            names = [f"fill{i}" for i in range(fill)] + [f"joiner{i}" for i in range(args.joins)]
            cpu, wall, tokens = await cpu_of(hs.pid, gather_limited(2 * CORES, (register(n) for n in names)))
            out["register"] = cpu / len(names)
            print(f"  {len(names)} registrations: Synapse CPU {cpu:.1f} s in {wall:.1f} s wall "
                  f"= {out['register']:.3f} s each", flush=True)
            token_of = dict(zip(names, tokens, strict=True))  # type: ignore[arg-type]

            space = (await hs.call("POST", f"{V}/createRoom", bot, {
                "preset": "public_chat", "name": "space", "creation_content": {"type": "m.space"}}))["room_id"]

            async def join(name: str, room: str) -> None:
                await hs.call("POST", f"{V}/join/{room}", token_of[name], {})

            cpu, wall, _ = await cpu_of(hs.pid, gather_limited(args.concurrency, (join(n, space) for n in names)))
            out["space"] = cpu / len(names)
            print(f"  {len(names)} joins of a space growing 1 → {len(names) + 1} members: Synapse CPU {cpu:.1f} s "
                  f"in {wall:.1f} s = {out['space']:.3f} s each", flush=True)
            restricted = {"type": "m.room.join_rules", "state_key": "",
                          "content": {"join_rule": "restricted",
                                      "allow": [{"type": "m.room_membership", "room_id": space}]}}
            rooms: dict[int, list[str]] = {}
            for size in base:
                rooms[size] = [(await hs.call("POST", f"{V}/createRoom", bot, {
                    "preset": "private_chat", "name": f"room {size}.{i}", "room_version": "10",
                    "initial_state": [restricted]}))["room_id"] for i in range(rooms_per_size)]
            fills = [(f"fill{i}", room) for size, n in base.items() for room in rooms[size] for i in range(n)]
            cpu, wall, _ = await cpu_of(hs.pid, gather_limited(args.concurrency, (join(n, r) for n, r in fills)))
            print(f"  {len(fills)} joins filling the rooms: Synapse CPU {cpu:.1f} s in {wall:.1f} s "
                  f"= {cpu / len(fills):.3f} s each", flush=True)
            for size, n in base.items():
                spy = start_profile(hs.pid, Path(args.tmp) / f"spy{size}.txt") if args.profile and size == 60 else None
                joins = [(f"joiner{i}", rooms[size][i % rooms_per_size]) for i in range(args.joins)]
                cpu, wall, _ = await cpu_of(hs.pid, gather_limited(args.concurrency,
                                                                   (join(n, r) for n, r in joins)))
                grown = n + args.joins // rooms_per_size
                out[f"join{size}"] = cpu / len(joins)
                print(f"  {len(joins)} restricted joins into {rooms_per_size} rooms of {n} → {grown} members "
                      f"(~{(n + grown) // 2}): Synapse CPU {cpu:.1f} s in {wall:.1f} s = "
                      f"{out[f'join{size}']:.3f} s each", flush=True)
                stop_profile(spy, Path(args.tmp) / f"spy{size}.txt")
    finally:
        synapse_service.stop()
    return out


async def parta(settings: Settings, args, services) -> dict:
    """A generated school imported and all its accounts created and placed by the provisioning service."""
    synapse_pid, service_pid = services[0].process.pid, services[1].process.pid
    school = generate_school(SCHOOLS[args.size], seed=11)
    roster = Path(args.tmp) / "roster"
    write_oneroster(school, roster)
    everyone = [p.source_id for p in (*school.teachers, *school.pupils, *school.guardians)]
    out: dict = {}
    bot = BotClient(settings.homeserver_url, settings.bot_access_token, settings.bot_user_id,
                    unix_socket=settings.admin_socket)
    try:
        async with ApiClient(settings.provisioning_url, settings.operator_token) as api:
            await build_school(api, "bench")
            cpu, wall, _ = await cpu_of(synapse_pid, api.import_roster("bench", zip_folder(roster)))
            print(f"  import ({len(school.classes)} classes): Synapse CPU {cpu:.1f} s in {wall:.1f} s", flush=True)
            stats0, service0 = await module_stats(settings), cpu_s(service_pid)
            spy = start_profile(synapse_pid, Path(args.tmp) / "spy-parta.txt") if args.profile else None
            cpu, wall, made = await cpu_of(synapse_pid, api.provision_many("bench", everyone))
            stats1, service_cpu = await module_stats(settings), cpu_s(service_pid) - service0
            stop_profile(spy, Path(args.tmp) / "spy-parta.txt")
        accounts = made["accounts"]  # type: ignore[index]
        module_cpu = (stats1["module_cpu_ns"] - stats0["module_cpu_ns"]) / 1e9
        rooms_of: dict[str, list[int]] = collections.defaultdict(list)
        for a in accounts:
            rooms_of[a["role"]].append(len(await bot.joined_rooms_of(a["user_id"])))
    finally:
        await bot.close()
    joins = sum(sum(v) for v in rooms_of.values())
    n = len(accounts)
    out.update(people=n, joins=joins, synapse=cpu, service=service_cpu, module=module_cpu, wall=wall)
    print(f"  accounts for {n} people ({', '.join(f'{len(v)} {k}' for k, v in sorted(rooms_of.items()))}): "
          f"{wall:.1f} s wall; Synapse CPU {cpu:.1f} s ({cpu / n:.3f} s a person), provisioning service CPU "
          f"{service_cpu:.1f} s ({service_cpu / n:.3f} s a person); Parta's callbacks {module_cpu:.2f} s "
          f"({module_cpu / cpu:.1%} of Synapse's)", flush=True)
    for role, counts in sorted(rooms_of.items()):
        print(f"    {role:<10} rooms joined: mean {sum(counts) / len(counts):.1f}, max {max(counts)}")
    out["rooms"] = {role: sum(v) / len(v) for role, v in rooms_of.items()}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--joins", type=int, default=200, help="measured joins per room size")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--size", choices=sorted(SCHOOLS), default="classes4", help="the Parta side's school")
    parser.add_argument("--profile", action="store_true", help="py-spy the vanilla joins into ~60-member rooms")
    parser.add_argument("--skip-parta", action="store_true")
    parser.add_argument("--skip-vanilla", action="store_true")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="parta-bench-joinfloor-"))
    args.tmp = str(tmp)
    try:
        print("vanilla Synapse:", flush=True)
        settings = make_installation(tmp / "vanilla", False)
        rounds = synapse_bcrypt_rounds(settings)
        h = hash_cpu(rounds)
        print(f"  one bcrypt hash at {rounds} rounds: {h:.3f} s CPU; {CORES} cores", flush=True)
        v = {} if args.skip_vanilla else asyncio.run(vanilla(settings, args))
        p: dict = {}
        if not args.skip_parta:
            print("Synapse with Parta:", flush=True)
            settings = make_installation(tmp / "parta", True)
            with running(settings, timeout=180) as services:
                p = asyncio.run(parta(settings, args, services))
        h = (h + hash_cpu(rounds)) / 2  # before and after: the machine's load drifts
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    budget = 1.5 * h
    print(f"\nbcrypt hash {h:.3f} s CPU; budget per person at ratio 1.5: {budget:.3f} s CPU over {CORES} cores "
          f"({budget - h:.3f} s besides the hash); Synapse's Python (one core): {budget / CORES:.3f} s")
    line = f"bcrypt_cpu_s={h:.3f} budget_cpu_s={budget:.3f}"
    if v:
        print(f"vanilla: registration {v['register']:.3f} s CPU ({v['register'] - h:+.3f} s besides the hash); "
              f"join ~30: {v['join30']:.3f} s, ~60: {v['join60']:.3f} s, space join: {v['space']:.3f} s")
        for role, rooms in (p.get("rooms") or {"student": 7.0, "parent": 6.0}).items():
            need = v["register"] + rooms * (v["join30"] + v["join60"]) / 2
            print(f"  a {role} ({rooms:.1f} rooms) on vanilla Synapse: {need:.3f} s CPU = {need / budget:.2f}× "
                  f"the budget")
        line += (f" vanilla_register_cpu_s={v['register']:.3f} vanilla_join30_cpu_s={v['join30']:.3f} "
                 f"vanilla_join60_cpu_s={v['join60']:.3f}")
    if p:
        register = v.get("register", h)  # without the vanilla side: a registration is about one hash
        per_person = (p["synapse"] + p["service"]) / p["people"]
        per_join = (p["synapse"] - p["people"] * register) / max(p["joins"], 1)
        print(f"parta: {per_person:.3f} s CPU a person (Synapse + service) = {per_person / budget:.2f}× the budget; "
              f"Synapse {(p['synapse'] - p['people'] * register) / p['people']:.3f} s a person besides its "
              f"registration = {per_join:.3f} s per room joined; Parta's callbacks "
              f"{p['module'] / p['synapse']:.1%} of Synapse's CPU")
        line += (f" parta_person_cpu_s={per_person:.3f} parta_join_cpu_s={per_join:.3f} "
                 f"module_share={p['module'] / p['synapse']:.3f}")
    print(line)


if __name__ == "__main__":
    main()
