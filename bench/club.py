"""Benchmark of a club's PCs heartbeating into one hub process with sessions running, by hand.

One uvicorn process serves Kassa as `kassa serve` does (background loop off, as in
bench/ingest.py). This process creates a club with `--pcs` PCs, a customer for each and an
open-ended session on each (charged a block at a time by the hub while the bench runs), then
connects that many simulated PCs from `--pc-processes` processes of their own. Each PC speaks
the club PC's protocol on `/club/ws` (hello, then a heartbeat every 5 s at a random phase,
acknowledging and answering the operations it is sent) and times each heartbeat from sending
it to reading the lease that answers it.

Three phases of `--seconds` each, in this order: the baseline, the renewals, the baseline
again. In the baseline phases every heartbeat carries `"echo": true`, which the bench's hub
answers at once with a fixed lease (the same link, frames, decoding and sending, no floor);
in the renewal phase heartbeats are the real thing: each renews its session's lease in the
hub's floor, whose rounds write leases and PCs' states and charge the sessions. It reports,
per phase, the heartbeats answered, their p50 and p99 round trip, and the hub's CPU (cores,
and milliseconds per heartbeat).

Goal (issue 19): 2,000 PCs (400 heartbeats/s), renewal p99 <= 20 ms, the hub under half a
core.

    .venv/bin/python bench/club.py [--pcs 2000] [--seconds 30] [--pc-processes 2]
                                   [--database URL]

See bench/README.md. Never collected by pytest (the file is not named test_*).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import random
import resource
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from fastapi import FastAPI
from ingest import Server, bench_app, database, run_async, stack
from sqlalchemy import insert
from websockets.asyncio.client import ClientConnection, connect

from kassa.config import Settings
from kassa.domain import new_id
from kassa.domain.club import LedgerKind
from kassa.services.club import clubs, customers, ledger, pcs, pricing, sessions
from kassa.services.context import Context
from kassa.services.shops import shops
from kassa.store.tables import club_customers

GOAL_P99_MS = 20.0
GOAL_CORES = 0.5
HEARTBEAT = 5.0
CONNECTS_AT_ONCE = 200
PHASES = ("baseline", "renewal", "baseline again")


def club_app(settings: Settings) -> FastAPI:
    """`bench_app`, whose club floor answers a heartbeat carrying `"echo": true` at once with
    a fixed lease: the baseline, over the same link."""
    from kassa.protocol.club import Lease
    from kassa.services.club.floor import Floor

    renew = Floor.heartbeat
    echo = Lease(None, None, None, 0)

    async def heartbeat(self: Floor, shop_id: str, device_id: str, data: Any) -> Lease:
        if data.get("echo"):
            return echo
        return await renew(self, shop_id, device_id, data)

    Floor.heartbeat = heartbeat  # type: ignore[method-assign]
    return bench_app(settings)


async def create_club(database_url: str, count: int) -> dict[str, tuple[str, str]]:
    """A club with `count` PCs, a customer with money for each and an open-ended session on
    each; per PC, its token and its session."""
    ctx = Context.open(Settings(database_url=database_url, background=False))
    try:
        shop = await shops.create_shop(ctx, name=f"bench-{secrets.token_hex(5)}")
        club = await clubs.create(
            ctx, shop=shop, name=f"bench-{secrets.token_hex(4)}", currency="KZT", timezone="UTC"
        )
        await clubs.add_zone(ctx, club=club, name="Standard")
        await pricing.set_rate(ctx, club=club, zone="Standard", per_minute=500)
        now = ctx.clock()
        logins = [f"c{i:05d}" for i in range(count)]
        async with ctx.db.write() as conn:
            await conn.execute(
                insert(club_customers),
                [
                    {
                        "id": new_id("cust"),
                        "club_id": club.id,
                        "login": login,
                        "password_hash": "-",  # nobody signs in during the bench
                        "name": "",
                        "balance": 0,
                        "time_bank": 0,
                        "created_at": now,
                    }
                    for login in logins
                ],
            )
            for login in logins:
                customer = await customers.find(conn, club=club, login=login)
                await ledger.post(
                    conn,
                    club=club,
                    customer_id=customer.id,
                    kind=LedgerKind.TOPUP,
                    amount=10_000_000,
                    method="cash",
                    actor="bench",
                    now=now,
                )
        found: dict[str, tuple[str, str]] = {}
        for i, login in enumerate(logins):
            name = f"PC-{i:05d}"
            _, token = await pcs.add(ctx, club=club, name=name, zone="Standard")
            session = await sessions.start(ctx, club=club, pc=name, login=login, actor="bench")
            found[name] = (token, session.id)
        return found
    finally:
        await ctx.close()


def phase_at(t0: float, seconds: float, moment: float) -> int | None:
    index = int((moment - t0) // seconds)
    return index if 0 <= index < len(PHASES) else None


class Pcs:
    """Simulated PCs, one WebSocket each, on this process's event loop."""

    def __init__(self, url: str, pcs: dict[str, tuple[str, str]], seconds: float):
        self.url = url
        self.pcs = pcs
        #: When the first phase starts (set once every PC of every process has its welcome).
        self.t0 = 0.0
        self.go = asyncio.Event()
        self.seconds = seconds
        self.connected = 0
        self.failed: list[str] = []
        self.latencies: list[list[float]] = [[] for _ in PHASES]
        self.unanswered = [0 for _ in PHASES]
        #: Why links ended before the bench did.
        self.closed: list[str] = []
        self._gate = asyncio.Semaphore(CONNECTS_AT_ONCE)

    async def run(self, ready: asyncio.Event) -> None:
        left = [len(self.pcs)]
        tasks = [
            asyncio.create_task(self._pc(name, token, session, ready, left))
            for name, (token, session) in self.pcs.items()
        ]
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _pc(
        self, name: str, token: str, session: str, ready: asyncio.Event, left: list[int]
    ) -> None:
        try:
            async with self._gate:
                ws = await connect(
                    self.url,
                    additional_headers={"Authorization": f"Bearer {token}"},
                    open_timeout=120,
                )
                await ws.send(message("hello", agent="bench", version="0"))
                await ws.recv()  # welcome
            self.connected += 1
        except Exception as exc:
            self.failed.append(f"{name}: {exc!r}")
            return
        finally:
            left[0] -= 1
            if left[0] == 0:
                ready.set()
        sent: dict[int, tuple[float, int]] = {}
        beating = asyncio.create_task(self._beat(ws, session, sent))
        try:
            await self._read(ws, sent)
            self.closed.append(f"{name}: closed {ws.close_code} {ws.close_reason}")
        except Exception as exc:
            self.closed.append(f"{name}: {exc!r}")
        finally:
            beating.cancel()

    async def _beat(
        self, ws: ClientConnection, session: str, sent: dict[int, tuple[float, int]]
    ) -> None:
        await self.go.wait()
        await asyncio.sleep(random.uniform(0, HEARTBEAT))
        seq = 0
        while True:
            seq += 1
            now = time.time()
            phase = phase_at(self.t0, self.seconds, now)
            if phase is not None:
                if sent:  # the previous heartbeat was never answered
                    self.unanswered[phase] += len(sent)
                    sent.clear()
                sent[seq] = (time.perf_counter(), phase)
            echo = phase is None or PHASES[phase] != "renewal"
            await ws.send(
                message("heartbeat", seq=seq, session=session, state="unlocked", echo=echo)
            )
            await asyncio.sleep(HEARTBEAT)

    async def _read(self, ws: ClientConnection, sent: dict[int, tuple[float, int]]) -> None:
        async for raw in ws:
            incoming = json.loads(raw)
            kind, data = incoming["type"], incoming["data"]
            if kind == "lease" and data.get("heartbeat") in sent:
                started, phase = sent.pop(data["heartbeat"])
                self.latencies[phase].append((time.perf_counter() - started) * 1000)
            elif kind == "operation":
                request = {"request_id": data["request_id"]}
                await ws.send(message("ack", **request))
                await ws.send(message("result", ok=True, body={}, **request))


def pcs_process(
    url: str, share: dict[str, tuple[str, str]], seconds: float, pipe: Connection
) -> None:
    async def main() -> None:
        simulated = Pcs(url, share, seconds)
        ready = asyncio.Event()
        running = asyncio.create_task(simulated.run(ready))
        await ready.wait()
        pipe.send((simulated.connected, simulated.failed))
        loop = asyncio.get_running_loop()
        simulated.t0 = await loop.run_in_executor(None, pipe.recv)
        simulated.go.set()
        await loop.run_in_executor(None, pipe.recv)
        running.cancel()
        pipe.send((simulated.latencies, simulated.unanswered, simulated.closed))

    run_async(main())


def message(kind: str, **data: object) -> str:
    return json.dumps({"type": kind, "data": data})


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


@dataclass
class Phase:
    name: str
    latencies: list[float]
    unanswered: int
    cpu_seconds: float | None
    seconds: float


def run(server: Server, found: dict[str, tuple[str, str]], args: argparse.Namespace) -> list[Phase]:
    url = f"ws://127.0.0.1:{server.port}/club/ws"
    names = list(found)
    context = multiprocessing.get_context("spawn")
    pipes, processes = [], []
    for index in range(args.pc_processes):
        share = {name: found[name] for name in names[index :: args.pc_processes]}
        ours, theirs = context.Pipe()
        process = context.Process(
            target=pcs_process, args=(url, share, args.seconds, theirs), daemon=True
        )
        process.start()
        pipes.append(ours)
        processes.append(process)
    connected = 0
    for pipe in pipes:
        count, failed = pipe.recv()
        connected += count
        if failed:
            print(f"{len(failed)} PCs failed to connect, e.g. {failed[0]}")
    print(f"PCs connected: {connected}/{len(names)}")
    # The PCs start beating now; the phases start once each has beaten twice.
    t0 = time.time() + 2 * HEARTBEAT
    for pipe in pipes:
        pipe.send(t0)
    cpu: list[float | None] = []
    for index in range(len(PHASES) + 1):
        time.sleep(max(0.0, t0 + index * args.seconds - time.time()))
        cpu.append(server.cpu_seconds())
    time.sleep(HEARTBEAT)  # the last answers
    latencies: list[list[float]] = [[] for _ in PHASES]
    unanswered = [0 for _ in PHASES]
    for pipe in pipes:
        pipe.send("stop")
    for pipe, process in zip(pipes, processes, strict=True):
        theirs, missed, closed = pipe.recv()
        if closed:
            print(f"{len(closed)} links ended early, e.g. {closed[0]}")
        for index in range(len(PHASES)):
            latencies[index] += theirs[index]
            unanswered[index] += missed[index]
        process.join(30)
    phases = []
    for index, name in enumerate(PHASES):
        before, after = cpu[index], cpu[index + 1]
        used = None if before is None or after is None else after - before
        phases.append(Phase(name, latencies[index], unanswered[index], used, args.seconds))
    return phases


def report(phases: list[Phase]) -> bool:
    print(f"stack: {stack()}")
    for phase in phases:
        count = len(phase.latencies)
        cores = None if phase.cpu_seconds is None else phase.cpu_seconds / phase.seconds
        per = None if phase.cpu_seconds is None or not count else phase.cpu_seconds * 1000 / count
        print(
            f"{phase.name:15} {count / phase.seconds:6.0f} heartbeats/s  "
            f"p50 {percentile(phase.latencies, 50):6.2f} ms  "
            f"p99 {percentile(phase.latencies, 99):6.2f} ms  "
            f"hub {'?' if cores is None else f'{cores:.3f}'} cores  "
            f"({'?' if per is None else f'{per:.3f}'} ms CPU per heartbeat)  "
            f"unanswered {phase.unanswered}"
        )
    renewal = phases[1]
    p99 = percentile(renewal.latencies, 99)
    cores = None if renewal.cpu_seconds is None else renewal.cpu_seconds / renewal.seconds
    met = p99 <= GOAL_P99_MS and cores is not None and cores < GOAL_CORES
    print(
        f"renewal p99 {p99:.2f} ms (goal <= {GOAL_P99_MS:g}), hub "
        f"{'?' if cores is None else f'{cores:.3f}'} cores (goal < {GOAL_CORES}): "
        + ("goal met" if met else "goal NOT met")
    )
    return met


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pcs", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=30.0, help="of each phase")
    parser.add_argument("--pc-processes", type=int, default=2)
    parser.add_argument("--database", default=None, help="a database URL; default fresh SQLite")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = 2 * args.pcs + 256  # both ends of every connection live on this machine
    if hard < needed:
        print(f"needs {needed} open files; the limit here is {hard}")
        return 2
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, needed), hard))
    with database(args.database) as url:
        started = time.perf_counter()
        found = run_async(create_club(url, args.pcs))
        print(
            f"club of {args.pcs} PCs with sessions set up in {time.perf_counter() - started:.0f} s"
        )
        server = Server(url, app=club_app)
        server.start()
        try:
            return 0 if report(run(server, found, args)) else 1
        finally:
            server.stop()


if __name__ == "__main__":
    raise SystemExit(main())
