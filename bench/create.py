"""Benchmark of payment creation (`POST /v1/payments` with the sandbox), run by hand.

One uvicorn process serves Kassa's app as bench/ingest.py's server does (its bare route
`POST /bench/bare` first), plus a bench-only route, `POST /bench/sandbox`, second: it creates
a payment at the sandbox acquirer exactly as Kassa's provider does
(`ctx.gateways.for_account(account).create(…)`, in-process through the hub client's
transport, as in `kassa serve`) and does nothing of Kassa's own; its cost less the bare
route's is the sandbox's cost alone. With the same client as bench/ingest.py it measures:

- concurrency 1, the three routes in turns over one keep-alive connection (bare, sandbox,
  create, bare, …), so that all three see the same machine: p50 and p99 of each;
- concurrency 16: req/s and server CPU per request of the bare route, the sandbox route,
  creation, and the bare route again.

Kassa's own part of a create is its CPU less the sandbox's cost. Then it runs peer A's create
endpoint (`../shared/peers/peer_bench.py create --target peer-a`, a process of its own, in the
same sitting) and prints the goals of issue 16 with their verdicts: p50 at concurrency 1
<= 3 ms, CPU per create <= 3 x peer A's, Kassa's own part <= 1.5 x peer A's. Every payment
must be created (201), and peer A's bench, when run, must succeed, or it exits 1.

    .venv/bin/python bench/create.py [--n1 500] [--n16 1000] [--database-url URL]
                                     [--peers DIR] [--peer-db sqlite|URL] [--no-peer]

See bench/README.md. Never collected by pytest (the file is not named test_*).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response
from ingest import (
    BARE_PATH,
    Connection,
    Load,
    Server,
    Shop,
    bench_app,
    create_shop,
    database,
    fire,
    http_request,
    row,
    run_async,
    stack,
)
from sqlalchemy import make_url

from kassa.config import Settings
from kassa.domain import ProviderAccount, new_id
from kassa.providers.base import PaymentRequest
from kassa.services.context import Context
from kassa.services.shops import shops

SANDBOX_PATH = "/bench/sandbox"
CREATE_BODY = json.dumps({"amount": 150000, "currency": "RUB", "description": "bench"}).encode()
#: The goals of issue 16.
P50_GOAL_MS = 3.0
CPU_GOAL = 3.0
OWN_GOAL = 1.5
ROOT = Path(__file__).resolve().parents[1]


# --- the server ---------------------------------------------------------------------------


def create_bench_app(settings: Settings) -> FastAPI:
    """bench/ingest.py's app (Kassa's plus the bare route), plus the sandbox route."""
    app = bench_app(settings)
    accounts: dict[str, ProviderAccount] = {}

    async def sandbox(request: Request) -> Response:
        """Create at the sandbox acquirer as Kassa's provider does, and nothing more."""
        await request.body()
        ctx: Context = request.app.state.ctx
        name = request.query_params["shop"]
        if name not in accounts:
            found = await shops.hook_accounts(ctx, shop_name=name, provider="sandbox")
            accounts[name] = found[0]
        expires = ctx.clock() + timedelta(seconds=ctx.settings.payment_expires_in)
        payment = PaymentRequest(
            new_id("pay"),
            amount=150000,
            currency="RUB",
            capture=True,
            description="bench",
            expires_at=expires,
        )
        created = await ctx.gateways.for_account(accounts[name]).create(payment)
        body = json.dumps({"provider_payment_id": created.provider_payment_id}).encode()
        return Response(body, 201, media_type="application/json")

    app.add_api_route(SANDBOX_PATH, sandbox, methods=["POST"], include_in_schema=False)
    # Second in the route list, right after the bare route: the same routing cost.
    app.router.routes.insert(1, app.router.routes.pop())
    return app


# --- the scenario -------------------------------------------------------------------------


async def in_turns(port: int, requests: Sequence[bytes], n: int) -> list[Load]:
    """Each of `requests` in turn, `n` times round, over one keep-alive connection."""
    connection = Connection(port)
    statuses: list[list[int]] = [[] for _ in requests]
    bodies: list[list[bytes]] = [[] for _ in requests]
    latencies: list[list[float]] = [[] for _ in requests]
    try:
        for _ in range(n):
            for slot, data in enumerate(requests):
                started = time.perf_counter()
                status, body = await connection.request(data)
                latencies[slot].append(time.perf_counter() - started)
                statuses[slot].append(status)
                bodies[slot].append(body)
    finally:
        connection.close()
    return [
        Load(s, b, lat, sum(lat), 0.0, None)
        for s, b, lat in zip(statuses, bodies, latencies, strict=True)
    ]


@dataclass
class Results:
    """What one run measured: three loads at concurrency 1, four at 16."""

    c1: dict[str, Load]
    c16: dict[str, Load]

    def cpu_ms(self, name: str) -> float:
        """Server CPU per request at concurrency 16, in ms."""
        load = self.c16[name]
        assert load.server_cpu is not None, "/proc tells no CPU time here"
        return load.server_cpu / len(load.statuses) * 1000

    @property
    def bare_cpu_ms(self) -> float:
        """The cheaper of the two bare runs: what any route costs before its own work."""
        return min(self.cpu_ms("bare"), self.cpu_ms("bare (after)"))

    @property
    def sandbox_ms(self) -> float:
        """The sandbox's cost alone: its route's CPU less the bare route's."""
        return self.cpu_ms("sandbox") - self.bare_cpu_ms

    @property
    def own_ms(self) -> float:
        """Kassa's own part of a create: its CPU less the sandbox's cost."""
        return self.cpu_ms("create") - self.sandbox_ms

    def problems(self) -> list[str]:
        wanted = {"bare": 200, "bare (after)": 200, "sandbox": 201, "create": 201}
        found = []
        for runs in (self.c1, self.c16):
            for name, load in runs.items():
                bad = Counter(s for s in load.statuses if s != wanted[name])
                for status, count in bad.items():
                    first = load.bodies[load.statuses.index(status)][:200]
                    found.append(f"{count} x {name} answered {status}: {first!r}")
        return found


async def scenario(server: Server, shop: Shop, n1: int, n16: int, warmup: int) -> Results:
    headers = {"Authorization": f"Bearer {shop.key}", "Content-Type": "application/json"}
    bare = http_request("POST", BARE_PATH, CREATE_BODY, headers)
    sandbox = http_request("POST", f"{SANDBOX_PATH}?shop={shop.name}", CREATE_BODY, headers)
    create = http_request("POST", "/v1/payments", CREATE_BODY, headers)
    port, measure = server.port, server.cpu_seconds

    await in_turns(port, [bare, sandbox, create], warmup)
    names = ("bare", "sandbox", "create")
    c1 = dict(zip(names, await in_turns(port, [bare, sandbox, create], n1), strict=True))
    c16 = {}
    for name, request in (
        ("bare", bare),
        ("sandbox", sandbox),
        ("create", create),
        ("bare (after)", bare),
    ):
        await fire(port, [request] * warmup, 16)
        c16[name] = await fire(port, [request] * n16, 16, measure)
    return Results(c1, c16)


# --- peer A -------------------------------------------------------------------------------


def run_peer_a(peers: Path, db: str, n1: int, n16: int) -> dict[str, Any] | None:
    """Peer A's create, measured by its harness in a process of its own: its JSON summary,
    or None if it failed (said on the way)."""
    command = [sys.executable, str(peers / "peer_bench.py"), "create", "--target", "peer-a"]
    command += ["--db", db, "--n1", str(n1), "--n16", str(n16)]
    print("\n$ " + " ".join(command))
    done = subprocess.run(  # noqa: S603 (this interpreter and the harness the user names)
        command,
        env={**os.environ, "KASSA_CHECKOUT": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    lines = done.stdout.splitlines()
    for line in lines:
        if not line.startswith("JSON "):
            print("  " + line)
    found = [line for line in lines if line.startswith("JSON ")]
    if done.returncode != 0 or not found:
        print(f"PROBLEM: peer A's bench failed ({done.returncode}):\n{done.stderr[-2000:]}")
        return None
    summary: dict[str, Any] = json.loads(found[-1].removeprefix("JSON "))
    return summary


# --- the report ---------------------------------------------------------------------------


def verdict(name: str, value: float, goal: float, how: str) -> str:
    met = "met" if value <= goal else "NOT met"
    return f"GOAL {name}: {value:.2f} ms <= {goal:.2f} ms{how}: {met}"


def report(results: Results, peer: dict[str, Any] | None) -> None:
    print(
        f"\n{'':22}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'server CPU':>15}{'server':>9}"
        f"{'client':>9}\n{'':22}{'':27}{'per request':>15}{'busy':>9}{'busy':>9}"
    )
    print("concurrency 1, in turns (no CPU: the three share the time):")
    for name, load in results.c1.items():
        print(f"{name:<22}{load.rate:9.1f}{load.percentile(50):9.1f}{load.percentile(99):9.1f}")
    print("concurrency 16:")
    for name, load in results.c16.items():
        print(row(name, load))
    create = results.c1["create"]
    p50 = create.percentile(50)
    print(
        f"\ncreate: p50 {p50:.2f} ms, p99 {create.percentile(99):.2f} ms at concurrency 1; "
        f"{results.c16['create'].rate:.1f}/s at 16; server CPU {results.cpu_ms('create'):.3f} ms"
    )
    print(
        f"the sandbox alone: {results.sandbox_ms:.3f} ms of CPU (its route "
        f"{results.cpu_ms('sandbox'):.3f} ms less the bare route's {results.bare_cpu_ms:.3f} ms)"
    )
    print(f"Kassa's own part: {results.own_ms:.3f} ms of CPU (create less the sandbox)")
    print(verdict("p50 at concurrency 1", p50, P50_GOAL_MS, ""))
    if peer is None:
        print("(peer A not run: no verdicts against it)")
        return
    peer_cpu = float(peer["c16_create"]["cpu_ms_per_req"])
    print(
        f"peer A: p50 {peer['c1_create']['p50_ms']:.2f} ms at concurrency 1, "
        f"{peer['c16_create']['rps']:.1f}/s at 16, server CPU {peer_cpu:.3f} ms per create"
    )
    cpu, own = results.cpu_ms("create"), results.own_ms
    print(
        verdict(
            "CPU per create", cpu, CPU_GOAL * peer_cpu, f" (3 x peer A's; x{cpu / peer_cpu:.2f})"
        )
    )
    print(
        verdict(
            "Kassa's own part",
            own,
            OWN_GOAL * peer_cpu,
            f" (1.5 x peer A's; x{own / peer_cpu:.2f})",
        )
    )


# --- the command --------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--n1", type=int, default=500, help="requests per route at concurrency 1")
    parser.add_argument("--n16", type=int, default=1000, help="requests per run at concurrency 16")
    parser.add_argument("--warmup", type=int, default=100, help="warm-up requests per run")
    parser.add_argument(
        "--database-url",
        help="SQLAlchemy URL, e.g. postgresql+asyncpg://postgres@127.0.0.1/test "
        "(default: a fresh SQLite file in a temp dir)",
    )
    parser.add_argument(
        "--peers",
        type=Path,
        default=ROOT.parent / "shared" / "peers",
        help="where peer_bench.py is (default: ../shared/peers from the project root)",
    )
    parser.add_argument(
        "--peer-db",
        default="sqlite",
        help="peer A's database: sqlite (a fresh file), or a URL of a database of its own "
        "(its harness drops and makes its tables there)",
    )
    parser.add_argument("--no-peer", action="store_true", help="do not run peer A")
    args = parser.parse_args(argv)
    if min(args.n1, args.n16) < 1 or args.warmup < 0:
        parser.error("--n1 and --n16 must be positive, --warmup not negative")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark (and peer A's); 0 if every request got its answer, 1 otherwise."""
    args = parse_args(argv)
    with database(args.database_url) as url:
        shop = run_async(create_shop(url))
        server = Server(url, app=create_bench_app)
        server.start()
        try:
            print(f"Kassa payment creation: {stack()}")
            print(f"  database {make_url(url).render_as_string()}  shop {shop.name}")
            print(
                f"  n1={args.n1}  n16={args.n16}  warm-up={args.warmup}  "
                f"server pid {server.process.pid}"
            )
            results: Results = run_async(scenario(server, shop, args.n1, args.n16, args.warmup))
        finally:
            server.stop()
    peer, peer_failed = None, False
    if args.no_peer:
        pass
    elif (args.peers / "peer_bench.py").exists():
        peer = run_peer_a(args.peers, args.peer_db, args.n1, args.n16)
        peer_failed = peer is None
    else:
        print(f"\nno {args.peers}/peer_bench.py: give --peers, or run peer A by hand")
    report(results, peer)
    problems = results.problems()
    for problem in problems:
        print(f"PROBLEM: {problem}")
    return 1 if problems or peer_failed else 0


if __name__ == "__main__":
    sys.exit(main())
