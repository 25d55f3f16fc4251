"""Benchmark of event-to-delivery lag (merchant webhooks), run by hand.

One uvicorn process serves Kassa as `kassa serve` does, background loop on, and this process
runs a lean webhook receiver on loopback. A webhook endpoint for `payment.succeeded` points
at the receiver. Pending payments are made through the API before the clock starts; then
signed sandbox `payment.succeeded` notifications are sent at a steady rate, each committing
one transition with its event, the way a provider's traffic does. The lag of an event is its
arrival at the receiver minus its `created_at`.

It runs the same thing twice: at a trickle (the baseline: the lag of an idle dispatcher, what
waking it and sending alone cost), then at `--rate` for `--seconds`. It prints p50/p99
lag, deliveries/s, the ratio of the two p99s, the verdict on the goal (p99 <= 1 s at
200 events/s) and where the lag goes, from Kassa's own delivery records. It checks that every
event arrived with a valid signature, and exits 1 if anything was lost.

    .venv/bin/python bench/events.py [--rate 200] [--seconds 10] [--database sqlite|URL]
                                     [--workers N]  (N `kassa worker` processes; PostgreSQL)

See bench/README.md. Never collected by pytest (the file is not named test_*).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import math
import os
import secrets
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ingest import (
    HOST,
    Connection,
    Server,
    Shop,
    cpu_seconds,
    create_payments,
    create_shop,
    database,
    http_request,
    list_all,
    notification,
    run_async,
    stack,
)
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

from kassa.client import WebhookVerificationError, verify_webhook
from kassa.domain.checks import SCHEDULE
from kassa.providers.sandbox import SIGNATURE_HEADER

#: The goal of issue 4: p99 lag at most this many seconds at `GOAL_RATE` events/s.
GOAL_P99 = 1.0
GOAL_RATE = 200.0
#: How old a pending payment is when reconciliation first asks its provider about it.
FIRST_CHECK = SCHEDULE[0]
#: Where the receiver takes deliveries.
RECEIVER_PATH = "/kassa/webhooks"
#: Connections the payments are created over, and the most notifications in flight at once.
SETUP_CONCURRENCY = 50
MAX_IN_FLIGHT = 128
#: Seconds an idle keep-alive connection to Kassa is still reused (uvicorn's limit is 5).
IDLE_REUSE = 2.0
OK_RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"


def percentile(values: Sequence[float], p: float) -> float:
    """The `p`th percentile of `values` (nearest rank); NaN when there are none."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(1, math.ceil(len(ordered) * p / 100)) - 1]


def epoch(stamp: str) -> float:
    """Seconds since the epoch of an API timestamp such as `2026-11-30T05:09:53.258116Z`."""
    return datetime.fromisoformat(stamp).timestamp()


# --- Kassa -------------------------------------------------------------------------------


class Kassa:
    """The Kassa under test: the server process of bench/ingest.py with its background loop
    on, as `kassa serve` runs by default; or, with `workers`, the server with the loop off
    and that many `kassa worker` processes doing the background work (PostgreSQL only)."""

    def __init__(self, database_url: str, workers: int = 0) -> None:
        self.database_url = database_url
        # The receiver is on loopback, which deliveries refuse unless told otherwise.
        self.server = Server(database_url, background=not workers, webhooks_allow_private=True)
        self.workers = workers
        self.worker_processes: list[subprocess.Popen[bytes]] = []

    @property
    def port(self) -> int:
        return self.server.port

    def start(self) -> None:
        self.server.start()
        env = {
            **os.environ,
            "KASSA_DATABASE_URL": self.database_url,
            "KASSA_LOG_LEVEL": "warning",
            "KASSA_WEBHOOKS_ALLOW_PRIVATE": "true",
        }
        command = [sys.executable, "-m", "kassa", "worker"]
        for _ in range(self.workers):
            self.worker_processes.append(subprocess.Popen(command, env=env))  # noqa: S603

    def check(self) -> None:
        """Raise if a worker has died (a bad set-up would otherwise look like a slow one)."""
        for process in self.worker_processes:
            if process.poll() is not None:
                raise RuntimeError(f"kassa worker {process.pid} exited with {process.returncode}")

    def stop(self) -> None:
        """SIGTERM everything (workers finish the job in hand), then wait."""
        for process in self.worker_processes:
            process.terminate()
        for process in self.worker_processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.server.stop()

    def cpu_seconds(self) -> float | None:
        """CPU time all of Kassa's processes have used."""
        used = [self.server.cpu_seconds()]
        used += [cpu_seconds(process.pid) for process in self.worker_processes]
        return None if None in used else sum(u for u in used if u is not None)

    def describe(self) -> str:
        pids = f"server pid {self.server.process.pid}"
        if not self.workers:
            return f"background loop in the server; {pids}"
        workers = ", ".join(str(process.pid) for process in self.worker_processes)
        return f"background loop in {self.workers} `kassa worker` (pids {workers}); {pids}"


# --- the receiver -------------------------------------------------------------------------


@dataclass(frozen=True)
class Arrival:
    """One delivery the receiver got: when its body was in (wall clock), its headers and body,
    and the event parsed from the body."""

    at: float
    headers: dict[str, str]
    body: bytes
    event: dict[str, Any]


@dataclass
class Receiver:
    """A merchant's webhook endpoint at its leanest: raw asyncio streams, HTTP/1.1 keep-alive,
    answers 200 at once and only notes the time. Signatures are checked after the run."""

    #: The `payment.succeeded` deliveries received, by payment id, in arrival order.
    received: dict[str, list[Arrival]] = field(default_factory=dict)
    port: int = 0
    _server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}{RECEIVER_PATH}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, HOST, 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                headers = {}
                for line in head.decode("latin-1").split("\r\n")[1:]:
                    name, _, value = line.partition(":")
                    if name:
                        headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                at = time.time()
                writer.write(OK_RESPONSE)
                event = json.loads(body)
                if event.get("type") == "payment.succeeded":
                    payment_id = event["data"]["object"]["id"]
                    arrival = Arrival(at, headers, body, event)
                    self.received.setdefault(payment_id, []).append(arrival)
                await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass  # the sender closed its connection (or broke it): nothing more to read
        except asyncio.CancelledError:
            pass  # the bench is ending with Kassa's keep-alive connections still open
        finally:
            writer.close()


# --- committing transitions at a steady rate ----------------------------------------------


@dataclass(frozen=True)
class Commit:
    """One notification sent: its payment, when it was sent and answered (wall clock), and
    the answer (`200 accepted` when Kassa committed the transition and its event)."""

    payment_id: str
    sent: float
    answered: float
    answer: str


def verdict(body: bytes) -> str:
    """The `verdict` of a hook's JSON answer (`accepted`, `duplicate`…), or the answer itself."""
    try:
        found = json.loads(body).get("verdict")
    except (ValueError, AttributeError):
        found = None
    return str(found) if found else repr(body[:60])


async def commit_at_rate(
    port: int, requests: Sequence[tuple[str, bytes]], rate: float
) -> list[Commit]:
    """Send each `(payment id, notification)` at its turn, `rate` per second, without
    waiting for the answers before (an open loop, as providers' traffic is), over a pool of
    keep-alive connections with at most `MAX_IN_FLIGHT` requests in flight."""
    idle: list[tuple[Connection, float]] = []  # with when each was last used
    in_flight = asyncio.Semaphore(MAX_IN_FLIGHT)
    commits: list[Commit | None] = [None] * len(requests)

    def connection() -> Connection:
        """The most recently used idle connection, or a new one. Connections idle for longer
        than `IDLE_REUSE` are closed rather than reused: uvicorn drops them after 5 s."""
        while idle:
            found, used = idle.pop()
            if time.monotonic() - used < IDLE_REUSE:
                return found
            found.close()
        return Connection(port)

    async def send(index: int, payment_id: str, request: bytes) -> None:
        async with in_flight:
            conn = connection()
            sent = time.time()
            try:
                status, body = await conn.request(request)
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
                answer = f"error {exc!r}"[:80]
                conn.close()
            else:
                answer = f"{status} {verdict(body) if status == 200 else repr(body[:60])}"
            commits[index] = Commit(payment_id, sent, time.time(), answer)
            idle.append((conn, time.monotonic()))

    started = time.perf_counter()
    async with asyncio.TaskGroup() as group:
        for index, (payment_id, request) in enumerate(requests):
            wait = started + index / rate - time.perf_counter()
            if wait > 0:
                await asyncio.sleep(wait)
            group.create_task(send(index, payment_id, request))
    for conn, _ in idle:
        conn.close()
    return [commit for commit in commits if commit is not None]


# --- one phase: commit, then wait until everything arrived ---------------------------------


@dataclass
class Phase:
    """What one run at one rate committed and got delivered."""

    name: str
    rate: float
    commits: list[Commit]
    #: The first delivery of each accepted commit's event, by payment id.
    delivered: dict[str, Arrival]
    #: Payment ids whose event arrived more than once.
    duplicates: list[str]
    seconds: float
    kassa_cpu: float | None
    bench_cpu: float

    @property
    def accepted(self) -> list[Commit]:
        return [commit for commit in self.commits if commit.answer == "200 accepted"]

    @property
    def lost(self) -> list[str]:
        return [c.payment_id for c in self.accepted if c.payment_id not in self.delivered]

    def created(self) -> dict[str, float]:
        """Each delivered event's `created_at`, by payment id."""
        return {pid: epoch(arrival.event["created_at"]) for pid, arrival in self.delivered.items()}

    def lags(self) -> list[float]:
        """Arrival minus the event's `created_at`, in seconds, for each delivered event."""
        created = self.created()
        return [arrival.at - created[pid] for pid, arrival in self.delivered.items()]

    def lags_after_answer(self) -> list[float]:
        """Arrival minus the moment the notification's `200` reached the bench."""
        return [
            self.delivered[c.payment_id].at - c.answered
            for c in self.accepted
            if c.payment_id in self.delivered
        ]

    def ack_latencies(self) -> list[float]:
        return [commit.answered - commit.sent for commit in self.commits]

    def committed_rate(self) -> float:
        """Events per second as Kassa committed them (the span of their `created_at`)."""
        created = sorted(self.created().values())
        span = created[-1] - created[0] if len(created) > 1 else 0.0
        return (len(created) - 1) / span if span > 0 else math.nan

    def delivery_rate(self) -> float:
        """Deliveries per second at the receiver, first arrival to last."""
        arrived = sorted(arrival.at for arrival in self.delivered.values())
        span = arrived[-1] - arrived[0] if len(arrived) > 1 else 0.0
        return (len(arrived) - 1) / span if span > 0 else math.nan


async def run_phase(
    kassa: Kassa,
    receiver: Receiver,
    *,
    name: str,
    requests: Sequence[tuple[str, bytes]],
    rate: float,
    drain: float,
) -> Phase:
    """Commit `requests` at `rate`, then wait up to `drain` seconds for their deliveries."""
    cpu_before, bench_before = kassa.cpu_seconds(), time.process_time()
    started = time.perf_counter()
    commits = await commit_at_rate(kassa.port, requests, rate)
    wanted = {c.payment_id for c in commits if c.answer == "200 accepted"}
    deadline = time.perf_counter() + drain
    while time.perf_counter() < deadline:
        if wanted <= receiver.received.keys():
            break
        await asyncio.sleep(0.05)
    seconds = time.perf_counter() - started
    cpu_after, bench_cpu = kassa.cpu_seconds(), time.process_time() - bench_before
    await asyncio.sleep(0.5)  # a duplicate would come right behind: give it the chance
    arrivals = {pid: found for pid, found in receiver.received.items() if pid in wanted}
    receiver.received.clear()  # the next phase starts afresh
    kassa_cpu = None if cpu_before is None or cpu_after is None else cpu_after - cpu_before
    return Phase(
        name=name,
        rate=rate,
        commits=commits,
        delivered={pid: found[0] for pid, found in arrivals.items()},
        duplicates=[pid for pid, found in arrivals.items() if len(found) > 1],
        seconds=seconds,
        kassa_cpu=kassa_cpu,
        bench_cpu=bench_cpu,
    )


# --- the scenario -------------------------------------------------------------------------


@dataclass
class Round:
    """One fan-out of the dispatcher (every delivery it makes has its start as `created_at`),
    and the attempts at what it made."""

    start: float
    deliveries: int = 0
    last_attempt: float = 0.0


@dataclass(frozen=True)
class Stages:
    """Where the lag of a phase's events went, from Kassa's delivery records: created (the
    event's `created_at`) -> fanned out (its delivery row made) -> first attempt started ->
    at the receiver."""

    fan_out: list[float]
    queued: list[float]
    hop: list[float]
    #: The fan-outs that made this phase's deliveries, in order.
    rounds: list[Round]

    def rounds_line(self) -> str:
        """How often fan-outs came, how big they were and how fast their deliveries went."""
        starts = [each.start for each in self.rounds]
        gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
        sizes = [each.deliveries for each in self.rounds]
        sending = sum(each.last_attempt - each.start for each in self.rounds)
        if not gaps or sending <= 0:
            return f"{len(starts)} fan-out(s)"
        return (
            f"{len(starts)} fan-outs, one every {percentile(gaps, 50):.2f} s (p50; max "
            f"{max(gaps):.2f} s), of {percentile(sizes, 50):.0f} events (p50; max "
            f"{max(sizes)}), starting about {sum(sizes) / sending:.0f} attempts/s while sending"
        )


async def stages(
    kassa: Kassa, shop: Shop, endpoint_id: str, phases: Sequence[Phase]
) -> list[Stages]:
    """Read the endpoint's deliveries back through the API and split each phase's lags."""
    path = f"/v1/webhook_endpoints/{endpoint_id}/deliveries"
    records = {d["event"]: d for d in await list_all(kassa.port, shop, path) if d["attempts"]}
    return [split(phase, records) for phase in phases]


def split(phase: Phase, records: dict[str, Any]) -> Stages:
    created = phase.created()
    fan_out, queued, hop = [], [], []
    rounds: dict[float, Round] = {}
    for pid, arrival in phase.delivered.items():
        record = records.get(arrival.event["id"])
        if record is None:
            continue
        fanned = epoch(record["created_at"])  # a fan-out's start: every delivery it makes has it
        attempted = epoch(record["attempts"][0]["attempted_at"])
        fan_out.append(fanned - created[pid])
        queued.append(attempted - fanned)
        hop.append(arrival.at - attempted)
        this = rounds.setdefault(fanned, Round(fanned))
        this.deliveries += 1
        this.last_attempt = max(this.last_attempt, attempted)
    return Stages(fan_out, queued, hop, sorted(rounds.values(), key=lambda r: r.start))


@dataclass
class Results:
    baseline: Phase
    load: Phase
    #: The split of the trickle's lags, then of the load's.
    stages: list[Stages]
    unverified: list[str]
    #: Load payments that were older than `FIRST_CHECK` when their notification was sent.
    aged: int

    @property
    def ratio(self) -> float:
        """p99 lag under load over p99 lag at a trickle: 1.0 when the load adds nothing."""
        return percentile(self.load.lags(), 99) / percentile(self.baseline.lags(), 99)

    @property
    def problems(self) -> list[str]:
        found = []
        for phase in (self.baseline, self.load):
            answers = Counter(commit.answer for commit in phase.commits)
            found += [
                f"{phase.name}: {count} notifications answered {answer}"
                for answer, count in answers.items()
                if answer != "200 accepted"
            ]
            found += [f"{phase.name}: the event of {pid} never arrived" for pid in phase.lost]
        return found + self.unverified


async def create_endpoint(port: int, shop: Shop, url: str) -> tuple[str, str]:
    """A webhook endpoint for `payment.succeeded` at `url`, made through the API; its id and
    its secret."""
    body = json.dumps(
        {"url": url, "events": ["payment.succeeded"], "description": "bench/events.py"}
    ).encode()
    headers = {"Authorization": f"Bearer {shop.key}", "Content-Type": "application/json"}
    connection = Connection(port)
    try:
        status, answer = await connection.request(
            http_request("POST", "/v1/webhook_endpoints", body, headers)
        )
    finally:
        connection.close()
    if status != 201:
        raise RuntimeError(f"creating the webhook endpoint answered {status}: {answer[:200]!r}")
    endpoint = json.loads(answer)
    return endpoint["id"], endpoint["secret"]


def unverified(phases: Sequence[Phase], secret: str) -> list[str]:
    """Deliveries whose signature does not verify (as a merchant's app would check them)."""
    found = []
    for phase in phases:
        for pid, arrival in phase.delivered.items():
            try:
                verify_webhook(arrival.body, arrival.headers, secret, now=arrival.at)
            except WebhookVerificationError as exc:
                found.append(f"{phase.name}: the delivery for {pid} does not verify: {exc}")
    return found


@dataclass(frozen=True)
class Pending:
    """A pending payment made for the bench, and the notification that will pay it."""

    payment_id: str
    created_at: float
    notification: bytes


async def prepare(kassa: Kassa, shop: Shop, count: int) -> tuple[list[Pending], float]:
    """`count` pending payments made through the API, each with its signed notification
    ready to send; and how long making them took."""
    started = time.perf_counter()
    payments = await create_payments(kassa.port, shop, count, SETUP_CONCURRENCY)
    seconds = time.perf_counter() - started
    hook_path = f"/hooks/sandbox/{shop.name}"
    prepared: list[Pending] = []
    for payment in payments:
        body, signature = notification(shop.secret, payment, len(prepared))
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: signature}
        request = http_request("POST", hook_path, body, headers)
        prepared.append(Pending(payment["id"], epoch(payment["created_at"]), request))
    return prepared, seconds


async def scenario(kassa: Kassa, shop: Shop, args: argparse.Namespace) -> Results:
    """Make the payments and the endpoint; run the warm-up and the trickle; make the load's
    payments (last, so that they are as young as can be when paid); run the load; read back
    Kassa's delivery records and check every delivery's signature."""
    receiver = Receiver()
    await receiver.start()

    async def measure(name: str, batch: Sequence[Pending], rate: float) -> Phase:
        print(f"  {name}: {len(batch)} events at {rate:g}/s", flush=True)
        kassa.check()
        requests = [(pending.payment_id, pending.notification) for pending in batch]
        return await run_phase(
            kassa, receiver, name=name, requests=requests, rate=rate, drain=args.drain
        )

    try:
        early, seconds = await prepare(kassa, shop, args.warmup + args.baseline_events)
        # Made after these payments, so their `payment.created` events are not its business.
        endpoint_id, secret = await create_endpoint(kassa.port, shop, receiver.url)
        print(
            f"  setup: {len(early)} pending payments made through the API in {seconds:.1f} s; "
            f"endpoint {endpoint_id} (payment.succeeded) -> {receiver.url}",
            flush=True,
        )
        if args.warmup:
            await measure("warm-up", early[: args.warmup], args.baseline_rate)
        trickle = await measure("trickle", early[args.warmup :], args.baseline_rate)
        load, seconds = await prepare(kassa, shop, max(1, round(args.rate * args.seconds)))
        print(f"  setup: {len(load)} more for the load in {seconds:.1f} s", flush=True)
        loaded = await measure("load", load, args.rate)
        created = {pending.payment_id: pending.created_at for pending in load}
        splits = await stages(kassa, shop, endpoint_id, (trickle, loaded))
        return Results(
            baseline=trickle,
            load=loaded,
            stages=splits,
            unverified=unverified((trickle, loaded), secret),
            aged=sum(
                commit.sent - created[commit.payment_id] > FIRST_CHECK.total_seconds()
                for commit in loaded.commits
            ),
        )
    finally:
        await receiver.stop()


# --- the report ---------------------------------------------------------------------------


def ms(seconds: float) -> str:
    return "?" if math.isnan(seconds) else f"{seconds * 1000:.0f} ms"


def busy(cpu: float | None, seconds: float) -> str:
    return "?" if cpu is None else f"{cpu / seconds:.0%}"


def row(label: str, phase: Phase) -> str:
    lags = phase.lags()
    cells = [
        f"{len(phase.delivered)}/{len(phase.commits)}",
        f"{phase.rate:.0f}",
        f"{phase.committed_rate():.1f}",
        ms(percentile(phase.ack_latencies(), 99)),
        ms(percentile(lags, 50)),
        ms(percentile(lags, 99)),
        ms(max(lags, default=math.nan)),
        f"{phase.delivery_rate():.1f}",
        busy(phase.kassa_cpu, phase.seconds),
        busy(phase.bench_cpu, phase.seconds),
    ]
    return f"{label:<20}" + "".join(f"{cell:>11}" for cell in cells)


def report(results: Results) -> None:
    """Print the numbers and the verdicts."""
    print(f"\nmachine load average (1 min) at the end: {os.getloadavg()[0]:.2f}\n")
    heads = "arrived asked committed ack_p99 lag_p50 lag_p99 lag_max delivered kassa bench"
    print(f"{'':20}" + "".join(f"{head.replace('_', ' '):>11}" for head in heads.split()))
    subheads = ("", "/s", "/s", "", "", "", "", "/s", "busy", "busy")
    print(f"{'':20}" + "".join(f"{head:>11}" for head in subheads))
    print(row("trickle (baseline)", results.baseline))
    print(row("load", results.load))

    load, baseline = results.load, results.baseline
    p50, p99 = percentile(load.lags(), 50), percentile(load.lags(), 99)
    print(
        f"\nlag p50 {ms(p50)}  p99 {ms(p99)}  deliveries/s {load.delivery_rate():.1f}  "
        f"(at {load.committed_rate():.1f} events/s committed; from the notification's 200: "
        f"p50 {ms(percentile(load.lags_after_answer(), 50))}, "
        f"p99 {ms(percentile(load.lags_after_answer(), 99))})"
    )
    print(
        f"ratio p99 lag at load / p99 lag at a trickle = {results.ratio:.2f}  "
        f"(1.0: the load adds nothing to what an idle dispatcher costs; trickle p99 "
        f"{ms(percentile(baseline.lags(), 99))})"
    )
    met = "met" if p99 <= GOAL_P99 else "NOT met"
    below = "" if load.rate >= GOAL_RATE else f"; this run asked for only {load.rate:g}/s"
    print(f"goal p99 <= {ms(GOAL_P99)} at {GOAL_RATE:g} events/s: {met} (p99 {ms(p99)}{below})")

    trickle_split, load_split = results.stages
    print("\nwhere the lag goes (Kassa's delivery records)")
    print(f"  {'':36}{'trickle p50':>12}{'p99':>9}{'load p50':>12}{'p99':>9}{'max':>9}")
    for label, trickle_values, load_values in (
        ("created -> fanned out", trickle_split.fan_out, load_split.fan_out),
        ("fanned out -> attempt started", trickle_split.queued, load_split.queued),
        ("attempt started -> at the receiver", trickle_split.hop, load_split.hop),
    ):
        cells = [percentile(trickle_values, 50), percentile(trickle_values, 99)]
        cells += [percentile(load_values, 50), percentile(load_values, 99)]
        cells += [max(load_values, default=math.nan)]
        widths = (12, 9, 12, 9, 9)
        print(
            f"  {label:<36}" + "".join(f"{ms(v):>{w}}" for v, w in zip(cells, widths, strict=True))
        )
    print(f"  trickle: {trickle_split.rounds_line()}")
    print(f"  load:    {load_split.rounds_line()}")

    if results.aged:
        print(
            f"\nnote: {results.aged} load payments were over {FIRST_CHECK.total_seconds():g} s "
            "old when paid, so the reconciliation job (which first asks about a pending payment "
            "then) ran during the load too; a shorter --seconds or lower --rate keeps the "
            "setup short"
        )
    duplicates = results.baseline.duplicates + results.load.duplicates
    if duplicates:
        print(f"\nnote: {len(duplicates)} events arrived more than once, e.g. {duplicates[0]}")
    problems = results.problems
    if problems:
        print(f"\nLOST: {len(problems)} problem(s), for example:")
        for problem in problems[:10]:
            print(f"  {problem}")
    else:
        print(
            f"\nverified: every accepted notification's payment.succeeded event arrived, "
            f"signed with the endpoint's secret ({len(baseline.delivered)} + "
            f"{len(load.delivered)} events measured): nothing lost"
        )


# --- the command --------------------------------------------------------------------------


async def _admin(url: str, statement: str) -> None:
    """Run `statement` outside a transaction (CREATE/DROP DATABASE) on the server of `url`."""
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


@contextmanager
def fresh_database(choice: str) -> Iterator[str]:
    """A new, migrated database: a SQLite file in a temp dir for `sqlite`; for a PostgreSQL
    URL, a new database on its server, dropped afterwards (the bench's tables start empty)."""
    if choice == "sqlite":
        with database(None) as url:
            yield url
        return
    name = f"kassa_bench_{secrets.token_hex(4)}"
    run_async(_admin(choice, f'CREATE DATABASE "{name}"'))
    try:
        with database(make_url(choice).set(database=name).render_as_string(False)) as url:
            yield url
    finally:
        run_async(_admin(choice, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rate", type=float, default=GOAL_RATE, help="events/s of the load")
    parser.add_argument("--seconds", type=float, default=10.0, help="how long the load lasts")
    parser.add_argument(
        "--database",
        default="sqlite",
        help="`sqlite` (a fresh file in a temp dir) or a PostgreSQL URL such as "
        "postgresql+asyncpg://postgres@127.0.0.1/test (a fresh database is made on its server "
        "and dropped afterwards)",
    )
    parser.add_argument(
        "--baseline-rate", type=float, default=10.0, help="events/s of the trickle (baseline)"
    )
    parser.add_argument("--baseline-events", type=int, default=50, help="events of the trickle")
    parser.add_argument("--warmup", type=int, default=20, help="events before the trickle")
    parser.add_argument(
        "--drain", type=float, default=60.0, help="seconds to wait for the last deliveries"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        help="run the background loop in this many `kassa worker` processes instead of the "
        "server (PostgreSQL only; default 0: in the server, as `kassa serve` does)",
    )
    args = parser.parse_args(argv)
    if min(args.rate, args.seconds, args.baseline_rate, args.baseline_events, args.drain) <= 0:
        parser.error("--rate, --seconds, --baseline-rate, --baseline-events, --drain: positive")
    if args.warmup < 0 or args.workers < 0:
        parser.error("--warmup and --workers must not be negative")
    if args.workers and args.database == "sqlite":
        parser.error("--workers needs PostgreSQL: on SQLite the background loop runs in the server")
    if args.database != "sqlite" and not make_url(args.database).drivername.startswith(
        "postgresql"
    ):
        parser.error("--database is `sqlite` or a postgresql+asyncpg:// URL")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; 0 if nothing was lost, 1 otherwise."""
    args = parse_args(argv)
    with fresh_database(args.database) as url:
        shop = run_async(create_shop(url))
        kassa = Kassa(url, args.workers)
        kassa.start()
        try:
            print(f"Kassa event-to-delivery lag: {stack()}")
            print(
                f"  {os.cpu_count()} CPUs, load average (1 min) {os.getloadavg()[0]:.2f} "
                "at the start: anything else running skews the numbers"
            )
            print(f"  database {make_url(url).render_as_string()}  shop {shop.name}")
            print(f"  {kassa.describe()}")
            print(
                f"  load {args.rate:g} events/s for {args.seconds:g} s; baseline "
                f"{args.baseline_events} events at {args.baseline_rate:g}/s; "
                f"warm-up {args.warmup} events"
            )
            results: Results = run_async(scenario(kassa, shop, args))
        finally:
            kassa.stop()
    report(results)
    return 1 if results.problems else 0


if __name__ == "__main__":
    sys.exit(main())
