"""Benchmark of provider-notification ingestion (`POST /hooks/sandbox/{shop}`), run by hand.

One uvicorn process serves Kassa's app (built by `create_app`, exactly as `kassa serve` runs
it) plus a bare route, `POST /bench/bare`, matched first, that only reads the body and
answers 200. A lean client (raw asyncio streams, HTTP/1.1 keep-alive, one connection per
unit of concurrency) first measures the bare route, then N signed sandbox
`payment.succeeded` notifications for N pending payments, both with the same bodies,
concurrency and N, after a warm-up of each. It prints notifications/s, p50/p99 latency,
bare req/s and their ratio (the goal: >= 0.35), then checks through the API that every
payment succeeded with exactly one `payment.succeeded` event, and exits 1 if anything was
lost.

    .venv/bin/python bench/ingest.py [--n 2000] [--concurrency 50] [--database-url URL]
                                     [--workers N]

With `--workers N` (PostgreSQL) the server is N uvicorn processes sharing the port, as
`kassa serve --workers N` runs it, and the server CPU counts them all.

See bench/README.md. Never collected by pytest (the file is not named test_*).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import multiprocessing
import os
import secrets
import socket
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI, Request, Response
from sqlalchemy import make_url

from kassa.config import Settings
from kassa.providers.sandbox import SIGNATURE_HEADER, sign
from kassa.providers.wire import value_amount
from kassa.services.context import Context
from kassa.services.shops import keys, shops
from kassa.store import upgrade

GOAL = 0.35
BARE_PATH = "/bench/bare"
HOST = "127.0.0.1"
#: Settings of the benchmarked server besides the database and the port: no background loop,
#: rate limits that never bite, and no per-request access log (`kassa serve` logs at info).
SERVER_SETTINGS: dict[str, Any] = {
    "host": HOST,
    "background": False,
    "api_rate_limit": 1e9,
    "api_rate_burst": 10**9,
    "log_level": "warning",
}


# --- the server ---------------------------------------------------------------------------


def bench_app(settings: Settings) -> FastAPI:
    """Kassa's app as `kassa serve` builds it, plus the bare baseline route."""
    from kassa.web import create_app

    app = create_app(settings)

    async def bare(request: Request) -> Response:
        """Read the body and answer an empty 200: the floor of this server stack."""
        await request.body()
        return Response(status_code=200)

    app.add_api_route(BARE_PATH, bare, methods=["POST"], include_in_schema=False)
    # First in the route list: FastAPI tries routes in order, and passing the included
    # routers costs up to 0.15 ms, which would make the floor look higher than it is.
    app.router.routes.insert(0, app.router.routes.pop())
    return app


#: The environment variable that hands the settings to `--workers` processes, as JSON.
WORKER_SETTINGS = "KASSA_BENCH_SETTINGS"


def serve(
    database_url: str,
    port: int,
    overrides: dict[str, Any] | None = None,
    app: Callable[[Settings], FastAPI] = bench_app,
    workers: int = 1,
) -> None:
    """Serve the bench app the way `kassa serve` does (uvicorn defaults: uvloop and httptools
    when installed, `workers` processes); the entry point of the server process. `overrides`
    change `SERVER_SETTINGS` (bench/events.py turns the background loop on); `app` builds the
    app (bench/create.py adds a route of its own to `bench_app`; `bench_app` alone with
    several `workers`)."""
    fields = {
        "database_url": database_url,
        "port": port,
        "public_url": f"http://{HOST}:{port}",
        **SERVER_SETTINGS,
        **(overrides or {}),
    }
    settings = Settings(**fields)
    server: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_level": settings.log_level,
        "server_header": False,
    }
    if workers == 1:
        uvicorn.run(app(settings), **server)
        return
    if app is not bench_app:
        raise ValueError("several workers serve bench_app only")
    # As `kassa serve --workers N`: uvicorn's processes import the app's factory by name.
    os.environ[WORKER_SETTINGS] = json.dumps(fields)
    # multiprocessing gave this process a stdin of its own (/dev/null) that the processes
    # uvicorn spawns do not inherit: uvicorn would hand them its descriptor to reopen, and
    # they would fail to start (or reopen whatever has that number there).
    sys.stdin = None
    uvicorn.run(f"{Path(__file__).stem}:worker_app", factory=True, workers=workers, **server)


def worker_app() -> FastAPI:
    """The bench app in one of the server's `--workers` processes."""
    return bench_app(Settings(**json.loads(os.environ[WORKER_SETTINGS])))


def free_port() -> int:
    """A TCP port on the loopback interface that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    """The server process: started with `spawn`, so it shares nothing with this one."""

    def __init__(
        self,
        database_url: str,
        *,
        app: Callable[[Settings], FastAPI] = bench_app,
        workers: int = 1,
        **overrides: Any,
    ) -> None:
        self.port = free_port()
        context = multiprocessing.get_context("spawn")
        self.process = context.Process(
            target=serve,
            args=(database_url, self.port, overrides, app, workers),
            name="kassa-bench-server",
            # A daemon may not start processes: `--workers` servers are stopped by `stop`.
            daemon=workers == 1,
        )

    def start(self, timeout: float = 60) -> None:
        """Start the process and wait until it answers `/healthz`."""
        self.process.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.process.is_alive():
                raise RuntimeError(f"the server exited with code {self.process.exitcode}")
            try:
                with socket.create_connection((HOST, self.port), timeout=1) as sock:
                    sock.sendall(f"GET /healthz HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode())
                    if sock.recv(64).startswith(b"HTTP/1.1 200"):
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("the server did not start in time")

    def stop(self) -> None:
        """Stop it the way a service manager would (SIGTERM: uvicorn shuts down cleanly)."""
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(15)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()

    def cpu_seconds(self) -> float | None:
        """CPU time the server process (all its threads, and its `--workers` processes) has
        used, where /proc tells it."""
        return cpu_seconds(self.process.pid)


def cpu_seconds(pid: int | None) -> float | None:
    """CPU time process `pid` and the processes it started (all their threads) have used,
    where /proc tells it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    used = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return used + sum(cpu_seconds(child) or 0.0 for child in children(pid))


def children(pid: int | None) -> list[int]:
    """The processes `pid` started and that still run."""
    found = []
    for listing in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found += [int(child) for child in listing.read_text().split()]
        except OSError:
            continue
    return found


# --- the client ---------------------------------------------------------------------------


def http_request(
    method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> bytes:
    """One HTTP/1.1 request, ready to write (built once, outside the measured time)."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {HOST}", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class Connection:
    """One keep-alive HTTP/1.1 connection over raw asyncio streams; one request at a time."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def open(self) -> None:
        if self._streams is None:
            self._streams = await asyncio.open_connection(HOST, self.port)

    def close(self) -> None:
        if self._streams is not None:
            self._streams[1].close()
            self._streams = None

    async def request(self, data: bytes) -> tuple[int, bytes]:
        """Send `data` and read the whole response: its status and body."""
        await self.open()
        assert self._streams is not None
        reader, writer = self._streams
        writer.write(data)
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length, chunked, close = 0, False, False
        for line in head.lower().split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value
            elif name == b"connection":
                close = b"close" in value
        body = await self._chunked(reader) if chunked else await reader.readexactly(length)
        if close:
            self.close()
        return status, body

    @staticmethod
    async def _chunked(reader: asyncio.StreamReader) -> bytes:
        parts = []
        while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
            parts.append(await reader.readexactly(size + 2))
        await reader.readuntil(b"\r\n")  # the empty trailer
        return b"".join(part[:-2] for part in parts)


@dataclass
class Load:
    """What one batch of requests got back, and how long it took."""

    statuses: list[int]
    bodies: list[bytes]
    latencies: list[float]
    seconds: float
    client_cpu: float
    server_cpu: float | None

    @property
    def rate(self) -> float:
        return len(self.statuses) / self.seconds

    def percentile(self, p: float) -> float:
        """The `p`th percentile latency in milliseconds (nearest rank)."""
        ordered = sorted(self.latencies)
        rank = max(1, math.ceil(len(ordered) * p / 100))
        return ordered[rank - 1] * 1000


async def fire(
    port: int,
    requests: Sequence[bytes],
    concurrency: int,
    server_cpu: Callable[[], float | None] = lambda: None,
) -> Load:
    """Send every request over `concurrency` keep-alive connections, each taking the next
    request as soon as it has its previous answer; time each one and the whole batch."""
    n = len(requests)
    statuses, bodies, latencies = [0] * n, [b""] * n, [0.0] * n
    connections = [Connection(port) for _ in range(min(concurrency, n))]
    await asyncio.gather(*(connection.open() for connection in connections))
    indices = iter(range(n))

    async def work(connection: Connection) -> None:
        for i in indices:  # shared by all the workers: each request is sent once
            started = time.perf_counter()
            try:
                statuses[i], bodies[i] = await connection.request(requests[i])
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
                bodies[i] = repr(exc).encode()
                connection.close()
            latencies[i] = time.perf_counter() - started

    cpu_before, client_before = server_cpu(), time.process_time()
    started = time.perf_counter()
    await asyncio.gather(*(work(connection) for connection in connections))
    seconds = time.perf_counter() - started
    cpu_after, client_cpu = server_cpu(), time.process_time() - client_before
    for connection in connections:
        connection.close()
    used = None if cpu_before is None or cpu_after is None else cpu_after - cpu_before
    return Load(statuses, bodies, latencies, seconds, client_cpu, used)


# --- the scenario -------------------------------------------------------------------------


@dataclass(frozen=True)
class Shop:
    """The shop this run created: its name, sandbox secret and test API key."""

    name: str
    secret: str
    key: str


async def create_shop(database_url: str) -> Shop:
    """A new shop (unique name, so reruns on one database work) with a sandbox account and
    a test key, made through the services as `kassa shops create` and friends do."""
    ctx = Context.open(Settings(database_url=database_url, background=False))
    try:
        shop = await shops.create_shop(ctx, name=f"bench-{secrets.token_hex(5)}")
        sandbox = await shops.configure_provider(ctx, shop=shop, provider="sandbox", settings={})
        _, key = await keys.create_key(ctx, shop=shop)
        return Shop(shop.name, sandbox.account.credentials["secret"], key)
    finally:
        await ctx.close()


def notification(secret: str, payment: dict[str, Any], index: int) -> tuple[bytes, str]:
    """A signed sandbox `payment.succeeded` notification for `payment` (the format of the
    sandbox provider, as tests/helpers.py builds it): its body and signature."""
    amount = value_amount(payment["amount"], payment["currency"])
    document = {
        "id": f"sbxevt_bench_{index}_{secrets.token_hex(6)}",
        "type": "payment.succeeded",
        "created_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "object": {
            "id": payment["provider_payment_id"],
            "order_id": payment["id"],
            "status": "succeeded",
            "amount": amount,
            "amount_captured": amount,
        },
    }
    body = json.dumps(document).encode()
    return body, sign(secret, body)


async def create_payments(port: int, shop: Shop, count: int, concurrency: int) -> list[Any]:
    """`count` pending payments, created through `POST /v1/payments`."""
    body = json.dumps({"amount": 150000, "currency": "RUB", "description": "bench"}).encode()
    headers = {"Authorization": f"Bearer {shop.key}", "Content-Type": "application/json"}
    request = http_request("POST", "/v1/payments", body, headers)
    load = await fire(port, [request] * count, concurrency)
    failed = [(s, b) for s, b in zip(load.statuses, load.bodies, strict=True) if s != 201]
    if failed:
        raise RuntimeError(f"{len(failed)} payments were not created; first: {failed[0]!r}")
    return [json.loads(body) for body in load.bodies]


async def list_all(port: int, shop: Shop, path: str) -> list[Any]:
    """Every object of a `/v1` list endpoint, page by page."""
    connection, found, after = Connection(port), [], ""
    headers = {"Authorization": f"Bearer {shop.key}"}
    try:
        while True:
            sep = "&" if "?" in path else "?"
            url = f"{path}{sep}limit=100{'&starting_after=' + after if after else ''}"
            status, body = await connection.request(http_request("GET", url, headers=headers))
            if status != 200:
                raise RuntimeError(f"GET {url} answered {status}: {body[:200]!r}")
            page = json.loads(body)
            found += page["data"]
            if not page["has_more"]:
                return found
            if not page["data"] or page["data"][-1]["id"] == after:
                raise RuntimeError(f"GET {url} does not page on: has_more but no new objects")
            after = page["data"][-1]["id"]
    finally:
        connection.close()


async def verify(port: int, shop: Shop, payment_ids: Sequence[str]) -> list[str]:
    """What was lost: payments that did not succeed or whose `payment.succeeded` event is
    missing or repeated (checked through the merchant API)."""
    statuses = {p["id"]: p["status"] for p in await list_all(port, shop, "/v1/payments")}
    succeeded = Counter(
        event["payment"]
        for event in await list_all(port, shop, "/v1/events?type=payment.succeeded")
    )
    problems = []
    for payment_id in payment_ids:
        if statuses.get(payment_id) != "succeeded":
            problems.append(f"{payment_id} is {statuses.get(payment_id, 'missing')}")
        if succeeded[payment_id] != 1:
            problems.append(f"{payment_id} has {succeeded[payment_id]} payment.succeeded events")
    return problems


def verdicts(load: Load) -> Counter[str]:
    """Responses of the hook by status and verdict, e.g. `200 accepted`."""
    found: Counter[str] = Counter()
    for status, body in zip(load.statuses, load.bodies, strict=True):
        try:
            verdict = json.loads(body).get("verdict", "?")
        except (ValueError, AttributeError):
            verdict = body[:60].decode(errors="replace")
        found[f"{status} {verdict}"] += 1
    return found


@dataclass
class Results:
    """Everything the run measured and checked."""

    setup_seconds: float
    payments: int
    bare_before: Load
    hooks: Load
    bare_after: Load
    responses: Counter[str]
    problems: list[str]

    @property
    def bare(self) -> Load:
        """The faster of the two bare runs: the conservative baseline for the ratio."""
        return max(self.bare_before, self.bare_after, key=lambda load: load.rate)

    @property
    def ratio(self) -> float:
        return self.hooks.rate / self.bare.rate


async def scenario(server: Server, shop: Shop, n: int, concurrency: int, warmup: int) -> Results:
    """Create the payments; measure the bare route, the notifications, the bare route again
    (each after a warm-up); then verify that nothing was lost."""
    started = time.perf_counter()
    payments = await create_payments(server.port, shop, warmup + n, concurrency)
    setup_seconds = time.perf_counter() - started

    hook_path = f"/hooks/sandbox/{shop.name}"
    hooks, bare = [], []
    for index, payment in enumerate(payments):
        body, signature = notification(shop.secret, payment, index)
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: signature}
        hooks.append(http_request("POST", hook_path, body, headers))
        bare.append(http_request("POST", BARE_PATH, body, headers))

    measure = server.cpu_seconds
    await fire(server.port, bare[:warmup], concurrency)
    bare_before = await fire(server.port, bare[warmup:], concurrency, measure)
    await fire(server.port, hooks[:warmup], concurrency)
    hook_load = await fire(server.port, hooks[warmup:], concurrency, measure)
    bare_after = await fire(server.port, bare[warmup:], concurrency, measure)

    responses = verdicts(hook_load)
    problems = [f"{count} notifications answered {what}" for what, count in responses.items()]
    problems = [problem for problem in problems if not problem.endswith(" 200 accepted")]
    bare_statuses = Counter(bare_before.statuses + bare_after.statuses)
    problems += [
        f"{count} bare requests answered {s}" for s, count in bare_statuses.items() if s != 200
    ]
    problems += await verify(server.port, shop, [payment["id"] for payment in payments])
    return Results(
        setup_seconds, len(payments), bare_before, hook_load, bare_after, responses, problems
    )


# --- the report ---------------------------------------------------------------------------


def stack(workers: int = 1) -> str:
    """Which loop and HTTP parser uvicorn picks by default here (as `kassa serve` gets)."""
    parts = [f"uvicorn {uvicorn.__version__}"]
    for module, fallback in (("uvloop", "asyncio loop"), ("httptools", "h11")):
        try:
            __import__(module)
            parts.append(module)
        except ImportError:
            parts.append(fallback)
    processes = "1 process" if workers == 1 else f"{workers} processes"
    return ", ".join(parts) + f", {processes}, Python {sys.version.split()[0]}"


def row(name: str, load: Load) -> str:
    """One line of the results table."""
    cpu = load.server_cpu
    per_request = f"{cpu / len(load.statuses) * 1000:9.3f} ms" if cpu is not None else "?"
    busy = f"{cpu / load.seconds:7.0%}" if cpu is not None else "?"
    return (
        f"{name:<22}{load.rate:9.1f}{load.percentile(50):9.1f}{load.percentile(99):9.1f}"
        f"{per_request:>15}{busy:>9}{load.client_cpu / load.seconds:9.0%}"
    )


def report(results: Results, n: int, warmup: int) -> None:
    """Print the numbers and the verdicts."""
    print(
        f"setup: {results.payments} pending payments created through the API in "
        f"{results.setup_seconds:.1f} s ({results.payments / results.setup_seconds:.0f}/s)\n"
    )
    print(
        f"{'':22}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'server CPU':>15}{'server':>9}"
        f"{'client':>9}\n{'':22}{'':27}{'per request':>15}{'busy':>9}{'busy':>9}"
    )
    print(row("bare endpoint (before)", results.bare_before))
    print(row("notifications", results.hooks))
    print(row("bare endpoint (after)", results.bare_after))
    hooks, met = results.hooks, "met" if results.ratio >= GOAL else "NOT met"
    print(
        f"\nnotifications/s {hooks.rate:.1f}  p50 {hooks.percentile(50):.1f} ms  "
        f"p99 {hooks.percentile(99):.1f} ms  bare req/s {results.bare.rate:.1f} (the faster run)"
    )
    print(
        f"ratio notifications/s / bare req/s = {results.ratio:.3f}  "
        f"(goal on SQLite >= {GOAL}: {met})"
    )
    answers = ", ".join(f"{count} x {what}" for what, count in results.responses.most_common())
    print(f"notification responses: {answers}")
    if results.problems:
        print(f"LOST: {len(results.problems)} problem(s), for example:")
        for problem in results.problems[:10]:
            print(f"  {problem}")
    else:
        print(
            f"verified: all {results.payments} payments ({n} measured + {warmup} warm-up) "
            "succeeded, each with exactly one payment.succeeded event: nothing lost"
        )


# --- the command --------------------------------------------------------------------------


@contextmanager
def database(url: str | None) -> Iterator[str]:
    """The database to benchmark, migrated: `url`, or a fresh SQLite file in a temp dir."""
    if url:
        upgrade(url)
        yield url
        return
    with tempfile.TemporaryDirectory(prefix="kassa-bench-") as directory:
        fresh = f"sqlite+aiosqlite:///{directory}/kassa.db"
        upgrade(fresh)
        yield fresh


def run_async(coro: Awaitable[Any]) -> Any:
    """Run `coro` on uvloop when it is installed (a leaner client), else on asyncio."""

    async def main() -> Any:
        return await coro

    try:
        import uvloop
    except ImportError:
        return asyncio.run(main())
    return uvloop.run(main())


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--n", type=int, default=2000, help="notifications (and payments)")
    parser.add_argument("--concurrency", type=int, default=50, help="connections in flight")
    parser.add_argument("--warmup", type=int, default=200, help="warm-up requests per endpoint")
    parser.add_argument(
        "--database-url",
        help="SQLAlchemy URL, e.g. postgresql+asyncpg://postgres@127.0.0.1/test "
        "(default: a fresh SQLite file in a temp dir)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="server processes sharing the port, as `kassa serve --workers` (PostgreSQL)",
    )
    args = parser.parse_args(argv)
    if args.n < 1 or args.concurrency < 1 or args.warmup < 0 or args.workers < 1:
        parser.error("--n, --concurrency and --workers must be positive, --warmup not negative")
    if args.workers > 1 and not (args.database_url or "").startswith("postgresql"):
        parser.error("--workers needs --database-url postgresql+asyncpg://…")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; 0 if nothing was lost, 1 otherwise."""
    args = parse_args(argv)
    with database(args.database_url) as url:
        shop = run_async(create_shop(url))
        server = Server(url, workers=args.workers)
        server.start()
        try:
            print(f"Kassa notification ingestion: {stack(args.workers)}")
            print(f"  database {make_url(url).render_as_string()}  shop {shop.name}")
            print(
                f"  N={args.n}  concurrency={args.concurrency}  warm-up={args.warmup}  "
                f"server pid {server.process.pid}"
            )
            results: Results = run_async(
                scenario(server, shop, args.n, args.concurrency, args.warmup)
            )
        finally:
            server.stop()
    report(results, args.n, args.warmup)
    return 1 if results.problems else 0


if __name__ == "__main__":
    sys.exit(main())
