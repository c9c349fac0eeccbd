"""Provisioning a whole school, and the 1 September wave, on a fresh homeserver.

The school is the project's deterministic generator's (``generate_school("large")``: about 1,000
pupils in 40 classes, 80 teachers, 1,500 guardians). Steps, each timed, on one installation made by
``parta init`` (rate limits relaxed, SQLite):

1. ``initial``: the roster imported (rooms built for 40 classes).
2. ``accounts``: accounts for everyone but the people kept for the wave (``POST .../accounts``);
   ``accounts_ratio`` = its time over the time of as many bcrypt hashes spread over the machine's
   cores, measured in the same run at Synapse's configured rounds (the physical floor: Synapse
   hashes each new account's password once).
3. ``noop``: the same roster again (nothing changes).
4. ``delta``: a later roster of the same school with 30 moves, 20 leavers and 25 newcomers.
5. ``burst``: the kept people (300 guardians) register at once through the Matrix registration
   API (``POST /_matrix/client/v3/register`` with their personal codes), until every one is in
   the school's space; ``burst_ratio`` against as many bcrypt hashes, as above. Then ``steady``:
   more kept people register at 2 per second; p95 of registration-to-placed.
6. ``baseline``: a small school (4 classes) built twice: by Parta (import and accounts) and the
   naive way integrations do it, one request at a time (create each account, each room, invite
   and join each member, each person signing in); ``baseline_ratio`` = naive time / Parta's.

Printed: the time of each step, the peak resident memory of Synapse and of the provisioning
service, and the last line ``initial_s=… accounts_ratio=… noop_s=… delta_s=… burst_ratio=…
baseline_ratio=…``. Goals (2-core machine, SQLite): initial ≤ 60 s, accounts_ratio ≤ 1.5,
noop ≤ 5 s, delta ≤ 15 s, burst_ratio ≤ 1.5, baseline_ratio ≥ 5.

Run: ``.venv/bin/python bench/provision.py [--size large|medium|small] [--burst 300] [--steady 20]``
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import bcrypt
from mautrix.api import HTTPAPI, Method
from ruamel.yaml import YAML

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from module_overhead import make_installation  # noqa: E402

from policies.application import EXAMPLE_PATH  # noqa: E402
from policies.templates import RoomRef, default_templates  # noqa: E402

from spaces_provisioner.api.client import ApiClient  # noqa: E402
from spaces_provisioner.cli.application_file import read_application_data  # noqa: E402
from spaces_provisioner.homeserver.bot import BotClient  # noqa: E402
from spaces_provisioner.homeserver.user import register as matrix_register  # noqa: E402
from spaces_provisioner.install.supervisor import running  # noqa: E402
from spaces_provisioner.roster.generate import (  # noqa: E402
    SIZES,
    GeneratedPupil,
    GeneratedSchool,
    SchoolSize,
    generate_school,
    write_oneroster,
)
from spaces_provisioner.roster.source import zip_folder  # noqa: E402
from spaces_provisioner.settings import Settings  # noqa: E402

V = "/_matrix/client/v3"
PASSWORD = "correct horse battery staple 42"


def bcrypt_floor(rounds: int, n: int) -> float:
    """Seconds that ``n`` bcrypt hashes at ``rounds`` take spread over every core (measured now)."""
    cores = os.cpu_count() or 1
    sample = max(2 * cores, 8)
    start = time.perf_counter()
    with ThreadPoolExecutor(cores) as pool:  # bcrypt releases the GIL while it hashes
        list(pool.map(lambda _i: bcrypt.hashpw(b"x" * 16, bcrypt.gensalt(rounds)), range(sample)))
    return (time.perf_counter() - start) / sample * n


def synapse_bcrypt_rounds(settings: Settings) -> int:
    data = YAML(typ="safe").load(settings.homeserver_config.read_text(encoding="utf-8"))
    return int(data.get("bcrypt_rounds") or 12)


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident memory (``VmHWM``), MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system) the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


PIDS: dict[str, int] = {}


def later_school(school: GeneratedSchool, moves: int, leavers: int, newcomers: int) -> GeneratedSchool:
    """The same school a while later: ``moves`` pupils in another class of their grade, ``leavers``
    pupils gone, ``newcomers`` pupils new (children of existing guardians)."""
    classes = school.class_by_id()
    by_grade: dict[int, list[str]] = {}
    for c in school.classes:
        by_grade.setdefault(c.grade, []).append(c.source_id)
    pupils = list(school.pupils)
    moved = 0
    for i, p in enumerate(pupils):
        others = [c for c in by_grade[classes[p.class_id].grade] if c != p.class_id]
        if moved < moves and others and i % 7 == 3:
            pupils[i] = dataclasses.replace(p, class_id=others[0])
            moved += 1
    gone = {p.source_id for p in pupils[-leavers:]} if leavers else set()
    pupils = [p for p in pupils if p.source_id not in gone]
    guardians = [dataclasses.replace(g, child_ids=tuple(c for c in g.child_ids if c not in gone))
                 for g in school.guardians]
    new: list[GeneratedPupil] = []
    for i in range(newcomers):
        model = school.pupils[i * 13 % len(school.pupils)]
        new.append(dataclasses.replace(model, source_id=f"pupil-new-{i:03d}", guardian_ids=model.guardian_ids[:1]))
    guardian_children: dict[str, list[str]] = {}
    for p in new:
        for g in p.guardian_ids:
            guardian_children.setdefault(g, []).append(p.source_id)
    guardians = [dataclasses.replace(g, child_ids=g.child_ids + tuple(guardian_children.get(g.source_id, ())))
                 for g in guardians]
    return dataclasses.replace(school, pupils=tuple(pupils + new), guardians=tuple(guardians))


async def timed(label: str, coro, results: dict) -> object:
    """Await ``coro``; record and print its wall time and the CPU each service took meanwhile."""
    before = {name: cpu_s(pid) for name, pid in PIDS.items()}
    start = time.perf_counter()
    out = await coro
    results[label] = time.perf_counter() - start
    cpu = ", ".join(f"{name} CPU {cpu_s(pid) - before[name]:.1f} s" for name, pid in PIDS.items())
    print(f"  {label:<10} {results[label]:8.1f} s   ({cpu})", flush=True)
    return out


GUARDIAN_ROOMS = 5  # the school's space and announcements, the class space, parents' chat and channel


async def wait_placed(bot: BotClient, space_id: str, users: list[str], timeout: float = 900.0) -> None:
    """Until every user (a guardian) is joined to the school's space and then to all the rooms of
    a guardian of one class (placed by the service): the space is joined first, the rest after."""
    deadline = time.monotonic() + timeout
    left = set(users)
    while left and time.monotonic() < deadline:
        in_space = left & await bot.joined_members(space_id)
        for user_id in sorted(in_space):
            if len(await bot.joined_rooms_of(user_id)) >= GUARDIAN_ROOMS:
                left.discard(user_id)
        if left:
            await asyncio.sleep(1.0)  # each round reads every pending user's rooms: not too often
    if left:
        raise RuntimeError(f"{len(left)} registrations were not placed within {timeout:.0f} s")


async def build_school(api: ApiClient, slug: str) -> dict:
    app = read_application_data(EXAMPLE_PATH)
    app["slug"] = slug
    await api.apply_application(app)
    return await api.approve(slug)


async def naive(settings: Settings, school: GeneratedSchool, slug: str) -> None:
    """The school's rooms and memberships made the naive way: one request at a time, as the bot
    and as each person (who signs in with a password to accept an invitation)."""
    bot = BotClient(settings.homeserver_url, settings.bot_access_token, settings.bot_user_id,
                    unix_socket=settings.admin_socket)
    try:
        people = {p.source_id: p for p in (*school.teachers, *school.pupils, *school.guardians)}
        accounts = {}
        for n, (pid, person) in enumerate(sorted(people.items())):
            user_id = f"@naive{n}.{slug}:{settings.server_name}"
            await bot.put_user(user_id, {"password": PASSWORD, "displayname": person.name.display})
            accounts[pid] = user_id
        by_class: dict[str, list[str]] = {c.source_id: [] for c in school.classes}
        for p in school.pupils:
            by_class[p.class_id].append(p.source_id)
        for t in school.teachers:
            for c in t.class_ids:
                by_class[c].append(t.source_id)
        guardians_of = {p.source_id: p.guardian_ids for p in school.pupils}
        rooms: list[tuple[str, list[str]]] = [("school", sorted(people))]
        for c in school.classes:
            members = by_class[c.source_id]
            parents = sorted({g for p in members if p in guardians_of for g in guardians_of[p]})
            for kind in ("class_space", "class_chat", "class_announcements"):
                rooms.append((f"{c.source_id}-{kind}", members + parents if kind != "class_chat" else members))
            rooms.append((f"{c.source_id}-parents", parents + [t for t in members if t.startswith("teacher")]))
        tokens: dict[str, str] = {}
        for name, members in rooms:
            room = (await bot.request(Method.POST, f"{V}/createRoom", {"preset": "private_chat", "name": name}))[
                "room_id"]
            for pid in members:
                user_id = accounts[pid]
                await bot.request(Method.POST, f"{V}/rooms/{room}/invite", {"user_id": user_id})
                token = tokens.get(user_id)
                if token is None:  # each person signs in once, with the password (a bcrypt check),
                    # on the public listener (Synapse's login answers 500 on a Unix socket)
                    anonymous = HTTPAPI(base_url=settings.homeserver_url)
                    try:
                        r = await anonymous.request(Method.POST, f"{V}/login", {
                            "type": "m.login.password", "identifier": {"type": "m.id.user", "user": user_id},
                            "password": PASSWORD})
                    finally:
                        await anonymous.session.close()
                    token = tokens[user_id] = r["access_token"]
                user = HTTPAPI(base_url=settings.homeserver_url, token=token)
                try:
                    await user.request(Method.POST, f"{V}/join/{room}", {})
                finally:
                    await user.session.close()
    finally:
        await bot.close()


async def main_async(args, settings: Settings, tmp: Path, services) -> None:
    PIDS.update(synapse=services[0].process.pid, provisioning=services[1].process.pid)
    size = SIZES[args.size]
    school = generate_school(size)
    first = tmp / "first"
    write_oneroster(school, first)
    later = tmp / "later"
    write_oneroster(later_school(school, 30, 20, 25), later)
    kept = [g.source_id for g in school.guardians][: args.burst + args.steady]
    everyone = [p.source_id for p in (*school.teachers, *school.pupils, *school.guardians)]
    rounds = synapse_bcrypt_rounds(settings)
    print(f"school: {len(school.classes)} classes, {len(school.pupils)} pupils, {len(school.teachers)} teachers, "
          f"{len(school.guardians)} guardians; bcrypt rounds {rounds}; {os.cpu_count()} cores", flush=True)
    results: dict[str, float] = {}
    bot = BotClient(settings.homeserver_url, settings.bot_access_token, settings.bot_user_id,
                    unix_socket=settings.admin_socket)
    async with ApiClient(settings.provisioning_url, settings.operator_token) as api:
        await build_school(api, "bench")
        await timed("initial", api.import_roster("bench", zip_folder(first)), results)
        others = [p for p in everyone if p not in set(kept)]
        made = await timed("accounts", api.provision_many("bench", others), results)
        created = made["created"]  # type: ignore[index]
        await timed("noop", api.import_roster("bench", zip_folder(first)), results)
        await timed("delta", api.import_roster("bench", zip_folder(later)), results)
        codes = {c["person_id"]: c["code"] for c in (await api.personal_codes("bench", None))["codes"]}
        space = await bot.resolve_alias(f"#{default_templates().alias_localpart(RoomRef('bench', 'school_space'))}"
                                        f":{settings.server_name}")
        assert space is not None
        wave = [p for p in kept[: args.burst] if p in codes]

        async def burst() -> None:
            users = await asyncio.gather(*(matrix_register(settings.homeserver_url, codes[p], f"wave.{i}", PASSWORD)
                                           for i, p in enumerate(wave)))
            await wait_placed(bot, space, list(users))

        await timed("burst", burst(), results)
        latencies = []
        for i, p in enumerate(kept[args.burst:]):
            if p not in codes:
                continue
            start = time.perf_counter()
            user = await matrix_register(settings.homeserver_url, codes[p], f"steady.{i}", PASSWORD)
            registered = time.perf_counter() - start
            await wait_placed(bot, space, [user])
            latencies.append(time.perf_counter() - start)
            if args.verbose:
                print(f"    {user}: registered in {registered:.2f} s, placed in {latencies[-1]:.2f} s", flush=True)
            await asyncio.sleep(max(0.0, 0.5 - latencies[-1]))
        steady_p95 = statistics.quantiles(latencies, n=20)[-1] if len(latencies) > 1 else (latencies or [0])[0]
        print(f"  steady     p95 {steady_p95:.2f} s over {len(latencies)} registrations at 2/s", flush=True)

        if args.skip_baseline:
            results["parta_4cls"] = results["naive_4cls"] = 1.0
        else:
            small = generate_school(SchoolSize((5, 6), 2, (23, 26)), seed=11)
            small_roster = tmp / "small"
            write_oneroster(small, small_roster)

            async def by_parta() -> None:
                await build_school(api, "bench-small")
                await api.import_roster("bench-small", zip_folder(small_roster))
                await api.provision_many("bench-small")

            await timed("parta_4cls", by_parta(), results)
            await timed("naive_4cls", naive(settings, small, "small"), results)
    await bot.close()
    accounts_ratio = results["accounts"] / bcrypt_floor(rounds, created)
    burst_ratio = results["burst"] / bcrypt_floor(rounds, len(wave))
    baseline_ratio = results["naive_4cls"] / results["parta_4cls"]
    synapse, provisioning = services
    print(f"accounts: {created} in {results['accounts']:.1f} s ({results['accounts'] / max(created, 1):.3f} s each); "
          f"burst: {len(wave)} in {results['burst']:.1f} s")
    print(f"peak memory: synapse {peak_rss_mb(synapse.process.pid):.0f} MB, "
          f"provisioning {peak_rss_mb(provisioning.process.pid):.0f} MB")
    print(f"initial_s={results['initial']:.1f} accounts_ratio={accounts_ratio:.2f} noop_s={results['noop']:.1f} "
          f"delta_s={results['delta']:.1f} burst_ratio={burst_ratio:.2f} baseline_ratio={baseline_ratio:.1f} "
          f"steady_p95_s={steady_p95:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="large")
    parser.add_argument("--burst", type=int, default=300)
    parser.add_argument("--steady", type=int, default=20)
    parser.add_argument("--keep", action="store_true", help="keep the installation (logs) afterwards")
    parser.add_argument("--skip-baseline", action="store_true", help="leave out the naive baseline")
    parser.add_argument("-v", "--verbose", action="store_true", help="print each steady registration's times")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="parta-bench-provision-"))
    try:
        settings = make_installation(tmp / "parta", True)
        with running(settings, timeout=180) as services:
            asyncio.run(main_async(args, settings, tmp, services))
    finally:
        if args.keep:
            print(f"kept: {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
