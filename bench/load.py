"""Load: many pupils chatting, syncing and searching, on Synapse with Parta and on vanilla Synapse.

Two installations run side by side, each over its own PostgreSQL database: with Parta (the
configuration as ``parta init`` writes it) and vanilla (the same Synapse, the same configuration with
Parta's module left out). Each is measured first as one Synapse process (``single``), then turned into
the worker topology (``workers``: ``write_worker_topology`` of ``parta init --workers``, for vanilla
with ``with_module=False``; Redis and nginx of its own) over the same database, so the people are made
once. Both sides get the same people:

- Parta: real schools from the project's deterministic generator
  (``spaces_provisioner.roster.generate``), imported and given accounts by the provisioning
  service, so that every message goes through Parta's rules in a real class chat. Full size: two
  schools of 40 classes, 80 class chats of about 25 pupils, about 2,000 pupil accounts;
- vanilla: as many accounts (Admin API) and one private room per class with the same pupils
  (Admin API join).

Setup is not measured (bcrypt rounds are cheap in the bench's own configuration, rate limits
relaxed on both sides). Then ``--clients`` concurrent clients drive the load for ``--duration``
seconds per phase, each cycling over its share of the accounts; each account in turn does the
next operation of a fixed mix: send a message into its class chat
(``PUT /rooms/{id}/send``), an incremental sync from its last ``next_batch``
(``GET /sync?timeout=0``), and (one in nine) a user-directory search for a classmate's family
name (``POST /user_directory/search``). Phases alternate Parta and vanilla (ABAB...) to cancel
the machine's drift; each side's throughput (requests per second) and p95 latency (all
requests) are the medians over its rounds, and each ratio Parta/vanilla is the median over the
rounds of that round's ratio (its two phases ran back to back).

Printed: per topology and side the throughput, p50/p95 and per-operation p95; the ratios
Parta/vanilla (goals: throughput ≥ 0.95, p95 ≤ 1.10); the scale-out (worker-topology throughput
over single-process throughput, both with Parta, on this machine). Last line
``single_throughput_ratio=… single_p95_ratio=… workers_throughput_ratio=… workers_p95_ratio=…
scaleout=…`` (``nan`` for a topology not run).

Run: ``.venv/bin/python bench/load.py [--size full|small|tiny] [--topology single|workers|both]
[--rounds 6] [--duration 20] [--clients 50] [--pg DSN]``. PostgreSQL: the bench starts a cluster of its
own (Debian's ``postgresql`` binaries) unless ``--pg`` names a server.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import itertools
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import aiohttp
import psycopg2

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import CHEAP_BCRYPT_ROUNDS, free_port, pg_database, relax_config  # noqa: E402

from policies.application import EXAMPLE_PATH  # noqa: E402
from policies.templates import RoomRef, default_templates  # noqa: E402

from spaces_provisioner.api.client import ApiClient  # noqa: E402
from spaces_provisioner.cli.application_file import read_application_data  # noqa: E402
from spaces_provisioner.homeserver.bot import BotClient  # noqa: E402
from spaces_provisioner.install.installation import init_installation  # noqa: E402
from spaces_provisioner.install.supervisor import running  # noqa: E402
from spaces_provisioner.roster.generate import (  # noqa: E402
    ALL_GRADES,
    GeneratedSchool,
    SchoolSize,
    generate_school,
    write_oneroster,
)
from spaces_provisioner.roster.source import zip_folder  # noqa: E402
from spaces_provisioner.settings import Settings  # noqa: E402

V = "/_matrix/client/v3"
PG_ADMIN_DSN = ""  # the admin DSN of the PostgreSQL server in use (--pg, else the bench's own cluster)
# 40 classes of 23-27 pupils: four parallels up to grade 7, three from grade 8 (the generator's "large")
FORTY = SchoolSize(ALL_GRADES, 4, (23, 27), letters_by_grade=((8, 3), (9, 3), (10, 3), (11, 3)))
#: --size: (school size, number of schools), clients, seconds per phase
SIZES: dict[str, tuple[SchoolSize, int, int, float]] = {
    "full": (FORTY, 2, 50, 20.0),                          # 80 classes, ~2,000 pupils
    "small": (SchoolSize((5, 6, 7, 8), 2, (23, 27)), 1, 30, 10.0),  # 8 classes, ~200 pupils
    "tiny": (SchoolSize((5,), 2, (4, 6)), 1, 6, 3.0),      # 2 classes, ~10 pupils: does it run
}
#: the operations each account does in turn: 4 sends, 4 syncs, 1 directory search
MIX = ("send", "sync", "send", "sync", "send", "sync", "search", "send", "sync")
SYNC_FILTER = json.dumps({"room": {"timeline": {"limit": 10}, "state": {"lazy_load_members": True}},
                          "presence": {"not_types": ["*"]}}, separators=(",", ":"))
_txn = itertools.count()


# -- installations ---------------------------------------------------------------------

@contextlib.contextmanager
def own_postgres() -> Iterator[str]:
    """A PostgreSQL cluster of the bench's own (Debian's binaries, a free port, trust on loopback,
    ``max_connections`` 400: the worker topology's processes of both sides each keep a pool, more than
    a shared server's 100 allow); yields its admin DSN; stopped and removed afterwards. PostgreSQL
    refuses to run as root: as root, the cluster runs as the ``postgres`` account."""
    bins = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not bins:
        raise RuntimeError("PostgreSQL's server binaries are missing: apt install postgresql "
                           "(or pass --pg DSN of a server with max_connections of 400 or more)")
    bin_dir = bins[-1].parent
    tmp = Path(tempfile.mkdtemp(prefix="parta-bench-pg-"))  # its own: the bench's is closed to others
    data = tmp / "data"
    data.mkdir()
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(tmp, "postgres")
        shutil.chown(data, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    subprocess.run([*as_user, str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                    "--locale=C", "-E", "UTF8"], check=True, stdout=subprocess.DEVNULL)
    server = subprocess.Popen([*as_user, str(bin_dir / "postgres"), "-D", str(data), "-p", str(port),
                               "-k", str(data), "-c", "listen_addresses=127.0.0.1", "-c", "max_connections=400",
                               "-c", "shared_buffers=256MB"],
                              stdout=subprocess.DEVNULL, stderr=(tmp / "postgres.log").open("w"))
    dsn = f"host=127.0.0.1 port={port} user=postgres dbname=postgres"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                psycopg2.connect(dsn).close()
                break
            except psycopg2.OperationalError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"PostgreSQL did not start; see {tmp / 'postgres.log'}") from None
                time.sleep(0.5)
        yield dsn
    finally:
        server.terminate()  # SIGTERM: PostgreSQL's smart shutdown
        try:
            server.wait(60)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(tmp, ignore_errors=True)


def database() -> contextlib.AbstractContextManager[str]:
    """A fresh PostgreSQL database on the server in use; dropped afterwards."""
    return pg_database(PG_ADMIN_DSN, "parta_load")


def make_installation(root: Path, with_parta: bool, dsn: str) -> None:
    """``parta init`` over PostgreSQL database ``dsn``, with the bench's changes (relaxed rate limits,
    cheap bcrypt, vanilla without Parta's module: ``_common.relax_config``)."""
    settings = init_installation(root, "bench.test", postgres_dsn=dsn, port=free_port(),
                                 provisioning_port=free_port())
    relax_config(settings.homeserver_config, with_parta, bcrypt_rounds=CHEAP_BCRYPT_ROUNDS)


@contextlib.contextmanager
def single(root: Path, with_parta: bool) -> Iterator[str]:
    """The installation as one Synapse process, running; yields its client URL."""
    settings = Settings.load(root)
    with running(settings, timeout=300):
        yield settings.homeserver_url


@contextlib.contextmanager
def workers(root: Path, with_parta: bool) -> Iterator[str]:
    """The same installation turned into the worker topology (``parta init --workers``: main, generic
    workers, Redis of its own, nginx), running; for vanilla with Parta's module left out of every process
    (``write_worker_topology(with_module=False)``). Yields nginx's URL, where clients go."""
    from spaces_provisioner.install.workers import write_worker_topology

    write_worker_topology(Settings.load(root), redis_port=free_port(), start_redis=True, with_module=with_parta)
    settings = Settings.load(root)
    with running(settings, timeout=300):
        yield settings.homeserver_url


TOPOLOGIES = {"single": single, "workers": workers}


# -- the people ------------------------------------------------------------------------

@dataclass
class Account:
    user_id: str
    token: str
    room_id: str
    search_term: str
    n: int = 0  # the account's place in the side's list: where it starts in MIX
    since: str = ""


def classmates_term(school: GeneratedSchool, pupil_index: int) -> str:
    """A classmate's family name (the next pupil of the same class)."""
    pupils = school.pupils
    me = pupils[pupil_index]
    same = [p for p in pupils if p.class_id == me.class_id and p.source_id != me.source_id]
    return (same[pupil_index % len(same)] if same else me).name.family_name


async def gather_limited(coros, limit: int = 16) -> list:
    sem = asyncio.Semaphore(limit)

    async def one(c):
        async with sem:
            return await c

    return list(await asyncio.gather(*(one(c) for c in coros)))


async def parta_people(settings: Settings, schools: list[GeneratedSchool], tmp: Path) -> list[Account]:
    """Schools built by the provisioning service (application, roster, accounts for the pupils)."""
    bot = BotClient(settings.homeserver_url, settings.bot_access_token, settings.bot_user_id,
                    unix_socket=settings.admin_socket)
    accounts: list[Account] = []
    try:
        async with ApiClient(settings.provisioning_url, settings.operator_token) as api:
            for n, school in enumerate(schools):
                slug = f"bench{n}"
                app = read_application_data(EXAMPLE_PATH)
                app["slug"] = slug
                await api.apply_application(app)
                await api.approve(slug)
                roster = tmp / f"roster-{slug}"
                write_oneroster(school, roster)
                start = time.perf_counter()
                await api.import_roster(slug, zip_folder(roster))
                imported = time.perf_counter()
                made = await api.provision_many(slug, [p.source_id for p in school.pupils])
                print(f"    {slug}: roster imported in {imported - start:.0f} s, {len(school.pupils)} accounts "
                      f"made and placed in {time.perf_counter() - imported:.0f} s", flush=True)
                user_of = {a["person_id"]: a["user_id"] for a in made["accounts"]}
                chats: dict[str, str] = {}
                for c in school.classes:
                    alias = default_templates().alias_localpart(RoomRef(slug, "class_chat", c.source_id))
                    room = await bot.resolve_alias(f"#{alias}:{settings.server_name}")
                    if room is None:
                        raise RuntimeError(f"class chat #{alias} was not made by the import")
                    chats[c.source_id] = room
                tokens = await gather_limited(bot.login_as(user_of[p.source_id]) for p in school.pupils)
                for i, (p, token) in enumerate(zip(school.pupils, tokens, strict=True)):
                    accounts.append(Account(user_of[p.source_id], token, chats[p.class_id],
                                            classmates_term(school, i)))
        missing = 0
        for room in {a.room_id for a in accounts}:
            joined = await bot.joined_members(room)
            missing += sum(1 for a in accounts if a.room_id == room and a.user_id not in joined)
        if missing:
            raise RuntimeError(f"{missing} pupils are not joined to their class chat after provisioning")
    finally:
        await bot.close()
    return accounts


async def vanilla_people(settings: Settings, schools: list[GeneratedSchool]) -> list[Account]:
    """The same pupils made directly: accounts (Admin API), one private room per class, joins."""
    bot = BotClient(settings.homeserver_url, settings.bot_access_token, settings.bot_user_id,
                    unix_socket=settings.admin_socket)
    accounts: list[Account] = []
    try:
        for n, school in enumerate(schools):
            rooms = {}
            for c in school.classes:
                rooms[c.source_id] = await bot.create_room({"preset": "private_chat", "name": c.title})
            user_ids = [f"@{p.source_id}.bench{n}:{settings.server_name}" for p in school.pupils]
            await gather_limited(bot.put_user(u, {"password": uuid.uuid4().hex, "displayname": p.name.display})
                                 for u, p in zip(user_ids, school.pupils, strict=True))
            await gather_limited(bot.force_join(u, rooms[p.class_id])
                                 for u, p in zip(user_ids, school.pupils, strict=True))
            tokens = await gather_limited(bot.login_as(u) for u in user_ids)
            for i, (u, p, token) in enumerate(zip(user_ids, school.pupils, tokens, strict=True)):
                accounts.append(Account(u, token, rooms[p.class_id], classmates_term(school, i)))
    finally:
        await bot.close()
    return accounts


# -- the load --------------------------------------------------------------------------

@dataclass
class Phase:
    """One side's measured phase: latencies (s) per operation, errors, wall seconds."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: {op: [] for op in set(MIX)})
    errors: int = 0
    seconds: float = 0.0

    @property
    def all(self) -> list[float]:
        return [x for values in self.latencies.values() for x in values]

    @property
    def throughput(self) -> float:
        return len(self.all) / self.seconds


async def request(session: aiohttp.ClientSession, url: str, account: Account, op: str) -> None:
    headers = {"Authorization": f"Bearer {account.token}"}
    if op == "send":
        path = f"{url}{V}/rooms/{quote(account.room_id)}/send/m.room.message/l{next(_txn)}"
        async with session.put(path, json={"msgtype": "m.text", "body": "Домашнее задание готово"},
                               headers=headers) as r:
            r.raise_for_status()
            await r.read()
    elif op == "sync":
        query = {"timeout": "0", "filter": SYNC_FILTER, **({"since": account.since} if account.since else {})}
        async with session.get(f"{url}{V}/sync", params=query, headers=headers) as r:
            r.raise_for_status()
            account.since = (await r.json())["next_batch"]
    else:
        async with session.post(f"{url}{V}/user_directory/search", json={"search_term": account.search_term,
                                                                         "limit": 10}, headers=headers) as r:
            r.raise_for_status()
            if not (await r.json())["results"]:
                raise RuntimeError(f"{account.user_id} found nobody for {account.search_term!r}")


async def drive(url: str, accounts: list[Account], clients: int, seconds: float, offset: int = 0) -> Phase:
    """``clients`` concurrent clients for ``seconds``; client ``i`` cycles over accounts i, i+clients, ...
    Each account does the next operation of MIX (starting ``offset`` into it)."""
    phase = Phase()
    connector = aiohttp.TCPConnector(limit=clients, force_close=False)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        deadline = time.perf_counter() + seconds

        async def client(i: int) -> None:
            mine = accounts[i::clients]
            step = offset
            while time.perf_counter() < deadline:
                for account in mine:
                    op = MIX[(step + account.n) % len(MIX)]
                    start = time.perf_counter()
                    try:
                        await request(session, url, account, op)
                    except (TimeoutError, aiohttp.ClientError, RuntimeError) as e:
                        phase.errors += 1
                        if phase.errors <= 3:
                            print(f"    error: {op} as {account.user_id}: {e}", flush=True)
                    else:
                        phase.latencies[op].append(time.perf_counter() - start)
                    if time.perf_counter() >= deadline:
                        return
                step += 1

        start = time.perf_counter()
        await asyncio.gather(*(client(i) for i in range(min(clients, len(accounts)))))
        phase.seconds = time.perf_counter() - start
    return phase


def pct(values: list[float], q: int) -> float:
    if not values:
        return math.nan
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else values[0]


@dataclass
class Result:
    """A topology's outcome: per side the phases of every round."""

    phases: dict[str, list[Phase]]

    def throughput(self, side: str) -> float:
        return statistics.median(p.throughput for p in self.phases[side])

    def p95(self, side: str, op: str | None = None) -> float:
        return statistics.median(pct(p.latencies[op] if op else p.all, 95) for p in self.phases[side])

    def p50(self, side: str) -> float:
        return statistics.median(pct(p.all, 50) for p in self.phases[side])


async def measure(urls: dict[str, str], people: dict[str, list[Account]], args) -> Result:
    """Warm both sides, then ``args.rounds`` rounds alternating the order (ABAB...)."""
    for name in urls:  # every account's initial sync (not measured), then a short warm-up
        await gather_limited((request_once(urls[name], a) for a in people[name]), 8)
        await directory_ready(urls[name], people[name])
        await drive(urls[name], people[name], args.clients, min(5.0, args.duration))
    phases: dict[str, list[Phase]] = {name: [] for name in urls}
    for r in range(args.rounds):
        order = list(urls) if r % 2 == 0 else list(reversed(urls))
        for name in order:
            phase = await drive(urls[name], people[name], args.clients, args.duration, offset=r)
            phases[name].append(phase)
            print(f"  round {r + 1} {name:<8} {phase.throughput:7.1f} req/s  p50 {pct(phase.all, 50) * 1000:6.1f} ms"
                  f"  p95 {pct(phase.all, 95) * 1000:6.1f} ms  ({len(phase.all)} requests, {phase.errors} errors)",
                  flush=True)
            total = len(phase.all) + phase.errors
            if phase.errors > max(3, total // 100):
                raise RuntimeError(f"{name}: {phase.errors} of {total} requests failed")
    return Result(phases)


async def directory_ready(url: str, accounts: list[Account], timeout: float = 1800.0) -> None:
    """Until every account's directory search finds its classmate: Synapse fills the user directory
    in the background after the joins, and with 2,000 joins on a busy machine it lags setup by minutes."""
    deadline = time.monotonic() + timeout
    left = list(accounts)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=300)) as session:
        while left:
            async def finds(a: Account) -> bool:
                try:
                    await request(session, url, a, "search")
                except RuntimeError:
                    return False
                return True
            found = await gather_limited((finds(a) for a in left), 8)
            left = [a for a, ok in zip(left, found, strict=True) if not ok]
            if left:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{len(left)} accounts still find nobody in the user directory")
                print(f"    waiting for the user directory: {len(left)} searches find nobody yet", flush=True)
                await asyncio.sleep(10)


async def request_once(url: str, account: Account) -> None:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=300)) as session:
        await request(session, url, account, "sync")


# -- a topology ------------------------------------------------------------------------

async def people_of(settings: dict[str, Settings], schools: list[GeneratedSchool], tmp: Path) -> dict:
    start = time.perf_counter()

    async def timed(name: str, coro) -> list[Account]:
        accounts = await coro
        print(f"  setup: {name} side's {len(accounts)} accounts in {time.perf_counter() - start:.0f} s", flush=True)
        return accounts

    # both at once: each side's Synapse is one process (one core) during setup
    parta, vanilla = await asyncio.gather(timed("Parta", parta_people(settings["parta"], schools, tmp)),
                                          timed("vanilla", vanilla_people(settings["vanilla"], schools)))
    out = {"parta": parta, "vanilla": vanilla}
    for accounts in out.values():
        for n, account in enumerate(accounts):
            account.n = n
    print(f"  setup: {len(out['parta'])} accounts in {len({a.room_id for a in out['parta']})} class chats per side "
          f"in {time.perf_counter() - start:.0f} s", flush=True)
    return out


def run_topologies(topologies: list[str], schools: list[GeneratedSchool], args, tmp: Path) -> dict[str, Result]:
    """Each side is one installation over its own database, its people made once (on the first topology);
    for each topology in turn both sides run at once and the rounds are measured."""
    results: dict[str, Result] = {}
    roots = {name: tmp / name for name in ("parta", "vanilla")}
    with contextlib.ExitStack() as databases:
        for name, root in roots.items():
            make_installation(root, name == "parta", databases.enter_context(database()))
        people: dict[str, list[Account]] | None = None
        for topology in topologies:
            print(f"{topology}: starting Parta and vanilla", flush=True)
            with contextlib.ExitStack() as stack:
                urls = {name: stack.enter_context(TOPOLOGIES[topology](root, name == "parta"))
                        for name, root in roots.items()}
                if people is None:
                    people = asyncio.run(people_of({n: Settings.load(r) for n, r in roots.items()}, schools, tmp))
                for accounts in people.values():
                    for account in accounts:
                        account.since = ""  # another topology: a fresh initial sync (not measured)
                results[topology] = asyncio.run(measure(urls, people, args))
            report(topology, results[topology])
    return results


def report(topology: str, res: Result) -> None:
    print(f"{topology}: {'side':<8} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8}   p95 by operation (ms)")
    for side in ("vanilla", "parta"):
        ops = ", ".join(f"{op} {res.p95(side, op) * 1000:.1f}" for op in sorted(set(MIX)))
        print(f"{'':>{len(topology) + 2}}{side:<8} {res.throughput(side):8.1f} {res.p50(side) * 1000:8.1f} "
              f"{res.p95(side) * 1000:8.1f}   {ops}")
    tput, p95, tputs, p95s = _ratios(res)
    print(f"{'':>{len(topology) + 2}}parta/vanilla (median of the rounds' ratios): throughput {tput:.3f} "
          f"(goal ≥ 0.95; rounds {min(tputs):.3f}-{max(tputs):.3f}), p95 {p95:.3f} (goal ≤ 1.10; rounds "
          f"{min(p95s):.3f}-{max(p95s):.3f})", flush=True)


def ratios(res: Result) -> tuple[float, float]:
    """Parta/vanilla: (throughput ratio, p95 ratio)."""
    return _ratios(res)[:2]


def _ratios(res: Result) -> tuple[float, float, list[float], list[float]]:
    # each round's Parta and vanilla phases ran back to back: their ratio cancels the machine's drift
    # (other load comes and goes over minutes); the median over rounds leaves out a round that a
    # burst of other work hit
    pairs = list(zip(res.phases["parta"], res.phases["vanilla"], strict=True))
    tputs = [x.throughput / v.throughput for x, v in pairs]
    p95s = [pct(x.all, 95) / pct(v.all, 95) for x, v in pairs]
    return statistics.median(tputs), statistics.median(p95s), tputs, p95s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="full")
    parser.add_argument("--topology", choices=("single", "workers", "both"), default="both")
    parser.add_argument("--rounds", type=int, default=6, help="measured phases per side (alternating order)")
    parser.add_argument("--duration", type=float, help="seconds per phase (default: by size)")
    parser.add_argument("--clients", type=int, help="concurrent clients (default: by size)")
    parser.add_argument("--keep", action="store_true", help="keep the installations (logs) afterwards")
    parser.add_argument("--pg", metavar="DSN", help="a PostgreSQL server's admin DSN (a role that may create "
                        "databases; max_connections 400 or more for the worker topology); default: the bench "
                        "starts its own cluster")
    args = parser.parse_args()
    size, count, clients, duration = SIZES[args.size]
    args.clients = args.clients or clients
    args.duration = args.duration or duration
    schools = [generate_school(size, seed=7 + n) for n in range(count)]
    pupils = sum(len(s.pupils) for s in schools)
    print(f"load: {sum(len(s.classes) for s in schools)} classes, {pupils} pupil accounts per side; "
          f"{args.clients} clients, {args.rounds} rounds of {args.duration:.0f} s per side; "
          f"mix {MIX.count('send')} send : {MIX.count('sync')} sync : {MIX.count('search')} search; "
          f"{os.cpu_count()} cores", flush=True)
    topologies = ["single", "workers"] if args.topology == "both" else [args.topology]
    tmp = Path(tempfile.mkdtemp(prefix="parta-bench-load-"))
    if "workers" in topologies and importlib.util.find_spec("spaces_provisioner.install.workers") is None:
        print("workers: not available in this checkout (no worker topology); left out", flush=True)
        topologies.remove("workers")
    results: dict[str, Result] = {}
    global PG_ADMIN_DSN
    try:
        stack = contextlib.ExitStack()
        PG_ADMIN_DSN = args.pg or stack.enter_context(own_postgres())
        with stack:
            results = run_topologies(topologies, schools, args, tmp)
    finally:
        if args.keep:
            print(f"kept: {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    nan = (math.nan, math.nan)
    scaleout = (results["workers"].throughput("parta") / results["single"].throughput("parta")
                if "workers" in results and "single" in results else math.nan)
    if not math.isnan(scaleout):
        print(f"scale-out: Parta {results['single'].throughput('parta'):.1f} req/s on one process, "
              f"{results['workers'].throughput('parta'):.1f} req/s on the worker topology ({scaleout:.2f}x)")
    s, w = (ratios(results[t]) if t in results else nan for t in ("single", "workers"))
    print(f"single_throughput_ratio={s[0]:.3f} single_p95_ratio={s[1]:.3f} workers_throughput_ratio={w[0]:.3f} "
          f"workers_p95_ratio={w[1]:.3f} scaleout={scaleout:.2f}")


if __name__ == "__main__":
    main()
