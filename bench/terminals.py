"""Benchmark of the terminal hub with thousands of connected agents, run by hand.

One uvicorn process serves Kassa as `kassa serve` does (background loop off, as in
bench/ingest.py, so what is measured is the hub). This process creates a shop with `--agents`
terminals, connects that many lightweight agents speaking Kassa's terminal protocol from
`--agent-processes` processes of their own (docs/terminal-protocol.md: hello, heartbeats
every 30 s, an immediate `result` to every operation; WebSocket pings every 20 s), and
measures:

- the hub's memory (resident set) before and after the agents connect, and per agent;
- its CPU while every agent is idle (heartbeats and pings only), in cores;
- the round trip of an operation relayed through the hub under load
  (`POST /v1/terminals/{id}/operations`, answered at once by the agent), against a baseline
  measured in the same run on the same server: `GET /v1/terminals/{id}` (the same
  authentication and a database read, no agent). The overhead is the difference.

Goal (issue 6): 5,000 agents, idle CPU under a quarter of a core, p99 overhead <= 10 ms.

    .venv/bin/python bench/terminals.py [--agents 5000] [--operations 2000]
                                        [--concurrency 1] [--idle-seconds 60]
                                        [--agent-processes 2]

See bench/README.md. Never collected by pytest (the file is not named test_*).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import multiprocessing
import random
import resource
import secrets
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

from ingest import Load, Server, database, fire, http_request, run_async, stack
from sqlalchemy import insert
from websockets.asyncio.client import ClientConnection, connect

from kassa.config import Settings
from kassa.domain.terminals import Terminal
from kassa.services.context import Context
from kassa.services.devices import terminals
from kassa.services.devices import tokens as terminal_tokens
from kassa.services.shops import keys, shops
from kassa.store.tables import terminals as terminals_table

GOAL_IDLE_CORES = 0.25
GOAL_OVERHEAD_MS = 10.0
HEARTBEAT = 30.0
CONNECTS_AT_ONCE = 200


@dataclass(frozen=True)
class Terminals:
    key: str
    tokens: dict[str, str]


async def create_terminals(database_url: str, count: int) -> Terminals:
    """A shop with `count` terminals (the first made as `kassa terminals add` does, the rest
    inserted at once) and their tokens."""
    ctx = Context.open(Settings(database_url=database_url, background=False))
    try:
        shop = await shops.create_shop(ctx, name=f"bench-{secrets.token_hex(5)}")
        _, key = await keys.create_key(ctx, shop=shop)
        first = await terminals.add_terminal(ctx, shop=shop, terminal_id="K00000")
        tokens = {first.terminal.id: first.token}
        now = ctx.clock()
        rest = [
            Terminal(
                id=f"K{i:05d}",
                shop_id=shop.id,
                name=f"K{i:05d}",
                enabled=True,
                token_version=1,
                created_at=now,
            )
            for i in range(1, count)
        ]
        async with ctx.db.write() as conn:
            if rest:
                await conn.execute(
                    insert(terminals_table),
                    [
                        {
                            "shop_id": t.shop_id,
                            "id": t.id,
                            "name": t.name,
                            "enabled": True,
                            "token_version": 1,
                            "created_at": now,
                            "updated_at": now,
                            "health": {},
                            "stats": {},
                        }
                        for t in rest
                    ],
                )
        for terminal in rest:
            tokens[terminal.id] = await terminal_tokens.issue(ctx, terminal)
        return Terminals(key, tokens)
    finally:
        await ctx.close()


class Agents:
    """Simulated agents, one WebSocket each, all on this process's event loop."""

    def __init__(self, url: str, tokens: dict[str, str]) -> None:
        self.url = url
        self.tokens = tokens
        self.connected = 0
        self.answered = 0
        self.failed: list[str] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._gate = asyncio.Semaphore(CONNECTS_AT_ONCE)
        self._ready: dict[str, asyncio.Event] = {}

    async def start(self) -> None:
        """Connect every agent."""
        for terminal_id, token in self.tokens.items():
            ready = self._ready[terminal_id] = asyncio.Event()
            self._tasks.append(asyncio.create_task(self._run(terminal_id, token, ready)))
        await asyncio.gather(*(event.wait() for event in self._ready.values()))

    async def _run(self, terminal_id: str, token: str, ready: asyncio.Event) -> None:
        try:
            async with self._gate:
                ws = await connect(
                    self.url,
                    additional_headers={"Authorization": f"Bearer {token}"},
                    open_timeout=120,
                )
                await ws.send(message("hello", agent="bench", version="0", unacked=[]))
                await ws.recv()  # welcome
            self.connected += 1
        except Exception as exc:
            self.failed.append(f"{terminal_id}: {exc!r}")
            return
        finally:
            ready.set()
        counters = {"requests": 0}
        beating = asyncio.create_task(self._heartbeats(ws, counters))
        try:
            await self._answer(ws, counters)
        finally:
            beating.cancel()

    async def _answer(self, ws: ClientConnection, counters: dict[str, int]) -> None:
        async for raw in ws:
            incoming = json.loads(raw)
            if incoming["type"] == "operation":
                request_id = incoming["data"]["request_id"]
                body = {"status": "OK", "echo": incoming["data"]["body"]}
                await ws.send(message("result", request_id=request_id, ok=True, body=body))
                counters["requests"] += 1
                self.answered += 1

    @staticmethod
    async def _heartbeats(ws: ClientConnection, counters: dict[str, int]) -> None:
        """A heartbeat every 30 s, as `kassa agent` sends it: the same health every time,
        and a counter that moves when the agent has answered something."""
        await asyncio.sleep(random.uniform(0, HEARTBEAT))
        while True:
            health = {"payment": {"ok": True, "latency_ms": 3}}
            await ws.send(message("heartbeat", stats=dict(counters), health=health, in_flight=0))
            await asyncio.sleep(HEARTBEAT)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


def agents_process(url: str, tokens: dict[str, str], pipe: Connection) -> None:
    """The entry point of one agents process: connect, report, wait to be told to stop,
    report what was answered."""

    async def main() -> None:
        agents = Agents(url, tokens)
        await agents.start()
        # Thousands of connections make a large heap of long-lived objects: keep the
        # collector's full passes over it from stalling this loop (and the answers the hub
        # is waiting for) in the middle of a measurement.
        gc.freeze()
        pipe.send((agents.connected, agents.failed))
        await asyncio.get_running_loop().run_in_executor(None, pipe.recv)
        await agents.stop()
        pipe.send(agents.answered)

    run_async(main())


class Fleet:
    """The simulated agents, spread over a few processes of their own so that their pings
    and heartbeats do not share an event loop with the bench's HTTP client."""

    def __init__(self, port: int, tokens: dict[str, str], processes: int) -> None:
        url = f"ws://127.0.0.1:{port}/terminals/ws"
        ids = list(tokens)
        context = multiprocessing.get_context("spawn")
        self._pipes: list[Connection] = []
        self._processes = []
        for index in range(processes):
            share = {tid: tokens[tid] for tid in ids[index::processes]}
            ours, theirs = context.Pipe()
            self._pipes.append(ours)
            self._processes.append(
                context.Process(target=agents_process, args=(url, share, theirs), daemon=True)
            )
        self.connected = 0
        self.failed: list[str] = []
        self.answered = 0

    def start(self) -> float:
        """Start the processes and wait until every agent is connected (or failed); returns
        the seconds it took."""
        started = time.perf_counter()
        for process in self._processes:
            process.start()
        for pipe in self._pipes:
            connected, failed = pipe.recv()
            self.connected += connected
            self.failed += failed
        return time.perf_counter() - started

    def stop(self) -> None:
        for pipe in self._pipes:
            pipe.send("stop")
        for pipe, process in zip(self._pipes, self._processes, strict=True):
            self.answered += pipe.recv()
            process.join(30)


def message(kind: str, **data: object) -> str:
    return json.dumps({"type": kind, "data": data})


def every_other(load: Load, first: int, concurrency: int) -> Load:
    """The requests of `load` at `first`, `first + 2`, …: one kind of a run taken in turns.
    Its rate counts the time spent on its own requests (their latencies over the
    concurrency), so the two kinds' rates are comparable."""
    latencies = load.latencies[first::2]
    return Load(
        load.statuses[first::2],
        load.bodies[first::2],
        latencies,
        sum(latencies) / concurrency,
        client_cpu=0.0,
        server_cpu=None,
    )


def rss_mib(pid: int | None) -> float | None:
    """Resident memory of process `pid`, where /proc tells it."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


@dataclass
class Results:
    agents: int
    connected: int
    answered: int
    connect_seconds: float
    rss_before: float | None
    rss_after: float | None
    idle_seconds: float
    idle_cpu: float | None
    baseline: Load
    relayed: Load


async def scenario(server: Server, shop: Terminals, args: argparse.Namespace) -> Results:
    pid = server.process.pid
    rss_before = rss_mib(pid)
    fleet = Fleet(server.port, shop.tokens, args.agent_processes)
    connect_seconds = await asyncio.to_thread(fleet.start)
    if fleet.failed:
        print(f"{len(fleet.failed)} agents failed to connect, e.g. {fleet.failed[0]}")
    await asyncio.sleep(5)  # let the connect burst's writes settle
    rss_after = rss_mib(pid)

    before = server.cpu_seconds()
    await asyncio.sleep(args.idle_seconds)
    after = server.cpu_seconds()
    idle_cpu = None if before is None or after is None else (after - before) / args.idle_seconds

    auth = {"Authorization": f"Bearer {shop.key}", "Content-Type": "application/json"}
    ids = list(shop.tokens)
    chosen = [random.choice(ids) for _ in range(args.operations)]
    baseline_requests = [
        http_request("GET", f"/v1/terminals/{tid}", headers=auth) for tid in chosen
    ]
    relay_requests = [
        http_request(
            "POST",
            f"/v1/terminals/{tid}/operations",
            json.dumps({"kind": "echo", "body": {"n": i}}).encode(),
            auth,
        )
        for i, tid in enumerate(chosen)
    ]
    # Taken in turns, so that both see the same machine: on a shared one, how busy it is
    # drifts over a minute more than the overhead being measured.
    mixed = await fire(
        server.port,
        [
            request
            for pair in zip(baseline_requests, relay_requests, strict=True)
            for request in pair
        ],
        args.concurrency,
    )
    baseline, relayed = (
        every_other(mixed, 0, args.concurrency),
        every_other(mixed, 1, args.concurrency),
    )
    await asyncio.to_thread(fleet.stop)
    return Results(
        agents=len(ids),
        connected=fleet.connected,
        answered=fleet.answered,
        connect_seconds=connect_seconds,
        rss_before=rss_before,
        rss_after=rss_after,
        idle_seconds=args.idle_seconds,
        idle_cpu=idle_cpu,
        baseline=baseline,
        relayed=relayed,
    )


def report(results: Results) -> bool:
    print(f"stack: {stack()}")
    print(
        f"agents: {results.connected}/{results.agents} connected in {results.connect_seconds:.1f} s"
    )
    if results.rss_before is not None and results.rss_after is not None:
        per_agent = (results.rss_after - results.rss_before) * 1024 / max(1, results.connected)
        print(
            f"hub memory: {results.rss_before:.0f} MiB before, {results.rss_after:.0f} MiB "
            f"with the agents ({per_agent:.0f} KiB per agent)"
        )
    if results.idle_cpu is not None:
        print(
            f"hub CPU with every agent idle: {results.idle_cpu:.3f} cores "
            f"over {results.idle_seconds:g} s (goal < {GOAL_IDLE_CORES})"
        )
    for name, load in (
        ("baseline GET /v1/terminals/{id}", results.baseline),
        ("relayed operation", results.relayed),
    ):
        bad = sum(status != 200 for status in load.statuses)
        print(
            f"{name:34} {load.rate:8.0f}/s  p50 {load.percentile(50):7.2f} ms  "
            f"p99 {load.percentile(99):7.2f} ms  non-200: {bad}"
        )
    print(f"operations the agents answered: {results.answered} of {len(results.relayed.statuses)}")
    overhead = results.relayed.percentile(99) - results.baseline.percentile(99)
    ratio = results.relayed.percentile(99) / max(results.baseline.percentile(99), 1e-9)
    print(
        f"relay overhead at p99: {overhead:.2f} ms (goal <= {GOAL_OVERHEAD_MS:g} ms); "
        f"p99 ratio relayed/baseline: {ratio:.2f}"
    )
    if overhead < 0:
        # The baseline's tail is longer than the relay's: the machine was busy with something
        # else during the baseline, and the difference says nothing.
        print("inconclusive: the baseline's p99 is above the relay's; run again on a quiet machine")
        return False
    met = (
        results.connected == results.agents
        and results.idle_cpu is not None
        and results.idle_cpu < GOAL_IDLE_CORES
        and overhead <= GOAL_OVERHEAD_MS
        and all(status == 200 for status in results.relayed.statuses)
        and results.answered == len(results.relayed.statuses)
    )
    print("goal met" if met else "goal NOT met")
    return met


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=5000)
    parser.add_argument("--operations", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=1, help="operations in flight at once")
    parser.add_argument("--idle-seconds", type=float, default=60.0)
    parser.add_argument(
        "--agent-processes", type=int, default=2, help="processes the agents are spread over"
    )
    parser.add_argument("--database", default=None, help="a database URL; default fresh SQLite")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = 2 * args.agents + 256  # both ends of every connection live on this machine
    if hard < needed:
        print(f"needs {needed} open files; the limit here is {hard}")
        return 2
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, needed), hard))
    with database(args.database) as url:
        shop = run_async(create_terminals(url, args.agents))
        server = Server(url)
        server.start()
        try:
            results = run_async(scenario(server, shop, args))
        finally:
            server.stop()
    return 0 if report(results) else 1


if __name__ == "__main__":
    sys.exit(main())
