"""Forged notifications change nothing, for every provider's hook.

Hypothesis starts from a genuine notification, signed as its provider signs it, that would
change a payment, and forges it the ways an attacker who saw it could: bit flips, changed
amounts, other payments' ids, bytes that are not UTF-8, NUL and huge numbers in the body,
signature headers missing, doubled, wrong or not ASCII, other shops' URLs, other types' URLs
(CloudPayments), odd paths; YooKassa's, which are not signed, from addresses it does not send
from. Every forgery is sent to a real Kassa on loopback (with the providers' emulators), and
must get no 5xx; afterwards no payment, refund or event has changed and nothing was logged
with a traceback. A second part signs odd bodies with the real secret: they must be
unreadable or about nothing, never a 5xx.

The examples are few and derived from the test's name (`derandomize`), so every run sends the
same requests; on both databases.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote_to_bytes, urlencode

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from kassa.providers.sandbox import sign as sandbox_sign
from kassa.services.shops import shops
from kassa.store.tables import events, payments, refunds
from tests.emulators import cloudpayments as cp
from tests.emulators.yookassa import YOOKASSA_ADDRESS, YooKassaEmulator, running
from tests.helpers import ShopSetup, create_payment, make_provider_shop, make_shop
from tests.helpers import sandbox_notification as sandbox_body
from tests.live import LiveServer

#: Few examples, always the same ones: a bounded, repeatable part of `make test`.
FUZZ = settings(
    max_examples=100,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

Header = tuple[str, str | bytes]


@dataclass(frozen=True)
class Genuine:
    """A genuine notification, not sent: where it goes and what it is."""

    provider: str
    shop: str
    body: bytes
    headers: tuple[Header, ...]
    #: The headers that sign it (none: YooKassa, which is trusted by its address).
    signed_by: frozenset[str] = frozenset()
    kind: str | None = None
    #: Other types' URLs it must not pass for (CloudPayments).
    other_kinds: tuple[str, ...] = ()
    #: Whether a signature also covers it URL-decoded (CloudPayments' X-Content-HMAC), so
    #: that a change of spelling alone (`%2b` for `%2B`) is no forgery.
    url_decoded: bool = False

    def path(self, shop: str | None = None, kind: str | None = None) -> str:
        kind = self.kind if kind is None else kind
        return f"{self.provider}/{self.shop if shop is None else shop}" + (
            f"/{kind}" if kind else ""
        )

    def same_as(self, body: bytes) -> bool:
        """Whether `body` says exactly what this one says (so a signature still fits)."""
        if body == self.body:
            return True
        return self.url_decoded and _decoded(body) == _decoded(self.body)


def _decoded(body: bytes) -> bytes:
    return unquote_to_bytes(body.replace(b"+", b" "))


@dataclass(frozen=True)
class Forgery:
    path: str
    body: bytes
    headers: tuple[Header, ...]
    what: str = ""

    def send(self, client: httpx.Client) -> httpx.Response:
        headers = [
            (name.encode(), value if isinstance(value, bytes) else value.encode("latin-1"))
            for name, value in self.headers
        ]
        return client.post(f"/hooks/{self.path}", content=self.body, headers=headers)


@dataclass
class Watched:
    """What forgeries must not change: the payments, their refunds and events."""

    server: LiveServer
    payment_ids: list[str] = field(default_factory=list)

    def state(self) -> list[Any]:
        async def read() -> list[Any]:
            async with self.server.ctx.db.read() as conn:
                rows = (
                    await conn.execute(
                        select(
                            payments.c.id,
                            payments.c.status,
                            payments.c.amount_captured,
                            payments.c.amount_refunded,
                            payments.c.provider_payment_id,
                        )
                        .where(payments.c.id.in_(self.payment_ids))
                        .order_by(payments.c.id)
                    )
                ).all()
                counted = []
                for table in (events, refunds):
                    counted.append(
                        (
                            await conn.execute(
                                select(func.count()).where(table.c.payment_id.in_(self.payment_ids))
                            )
                        ).scalar_one()
                    )
                return [tuple(row) for row in rows] + counted

        return self.server.call(read())


# Forging


ODD_BYTES = (b"\x00", b"\xff", b"\xc3\x28", b"\xef\xbb\xbf", b"%00", b"%ff", b"&", b"=", b"+")
ODD_TEXT = (
    "\x00",
    "pay\x00",
    "9" * 400,
    "1e999",
    "-1",
    "0.001",
    "NaN",
    "Ω≈ç√",
    "\u202e",
    " ",
    "",
)


def odd_values(other_ids: Sequence[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from([*other_ids, *ODD_TEXT]),
        st.decimals(min_value=-(10**20), max_value=10**20, places=2).map(str),
        st.text(max_size=20),
    )


def body_forgeries(g: Genuine, other_ids: Sequence[str]) -> st.SearchStrategy[bytes]:
    """The genuine body, changed: its signature no longer fits what it says."""
    size = len(g.body)

    def flip(bit: int) -> bytes:
        data = bytearray(g.body)
        data[bit // 8] ^= 1 << (bit % 8)
        return bytes(data)

    inserted = st.tuples(st.integers(0, size), st.sampled_from(ODD_BYTES)).map(
        lambda at: g.body[: at[0]] + at[1] + g.body[at[0] :]
    )
    return st.one_of(
        st.integers(0, size * 8 - 1).map(flip),
        inserted,
        st.integers(0, size - 1).map(lambda at: g.body[:at]),
        field_changes(g, other_ids),
    ).filter(lambda body: not g.same_as(body))


def field_changes(g: Genuine, other_ids: Sequence[str]) -> st.SearchStrategy[bytes]:
    """One field of the body set to another payment's id, another amount or odd text."""
    if g.body.lstrip().startswith(b"{"):
        document = json.loads(g.body)
        paths = sorted(_json_paths(document))

        def change_json(choice: tuple[tuple[str, ...], str]) -> bytes:
            path, value = choice
            changed = json.loads(g.body)
            target = changed
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = value
            return json.dumps(changed, ensure_ascii=False).encode("utf-8", "surrogatepass")

        return st.tuples(st.sampled_from(paths), odd_values(other_ids)).map(change_json)
    pairs = parse_qsl(g.body.decode(), keep_blank_values=True)
    names = [name for name, _ in pairs]

    def change_form(choice: tuple[str, str]) -> bytes:
        name, value = choice
        return urlencode(
            [(n, value if n == name else v) for n, v in pairs], errors="surrogatepass"
        ).encode()

    return st.tuples(st.sampled_from(names), odd_values(other_ids)).map(change_form)


def _json_paths(document: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for key, value in document.items():
        if isinstance(value, dict):
            yield from _json_paths(value, (*prefix, key))
        else:
            yield (*prefix, key)


BOGUS = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="


def signature_forgeries(g: Genuine) -> st.SearchStrategy[tuple[Header, ...]]:
    """The genuine headers with every signature header missing, wrong, doubled, in another
    case or not ASCII: none of them left as it was."""
    plain = tuple((name, value) for name, value in g.headers if name.lower() not in g.signed_by)
    genuine = {name.lower(): value for name, value in g.headers}

    def tamper(name: str, state: str) -> list[Header]:
        value = str(genuine[name])
        states: dict[str, list[Header]] = {
            "absent": [],
            "bogus": [(name, BOGUS)],
            "doubled": [(name, value), (name, value)],
            "genuine, then bogus": [(name, value), (name, BOGUS)],
            "bogus, then genuine": [(name, BOGUS), (name, value)],
            "upper case": [(name, value.upper())],
            "lower case": [(name, value.lower())],
            "not ASCII": [(name, ("é" + value).encode("latin-1"))],
            "UTF-8": [(name, ("подпись" + value).encode())],
            "empty": [(name, "")],
        }
        return states[state]

    states = st.sampled_from(
        [
            "absent",
            "bogus",
            "doubled",
            "genuine, then bogus",
            "bogus, then genuine",
            "upper case",
            "lower case",
            "not ASCII",
            "UTF-8",
            "empty",
        ]
    )
    names = sorted(g.signed_by)
    return (
        st.tuples(*(states for _ in names))
        .map(
            lambda chosen: (
                plain
                + tuple(
                    header
                    for name, state in zip(names, chosen, strict=True)
                    for header in tamper(name, state)
                )
            )
        )
        .filter(lambda headers: headers != g.headers)
    )


def forgeries(
    g: Genuine,
    *,
    other_shops: Sequence[str],
    other_ids: Sequence[str],
    unsigned_source: Callable[[], st.SearchStrategy[tuple[Header, ...]]] | None = None,
) -> st.SearchStrategy[Forgery]:
    """Forgeries of `g`. For an unsigned provider, `unsigned_source` gives the headers of a
    sender it does not accept, which every body and header forgery is sent with."""
    source = unsigned_source() if unsigned_source else st.just(g.headers)
    with_body = st.tuples(body_forgeries(g, other_ids), source).map(
        lambda forged: Forgery(g.path(), forged[0], forged[1], "body")
    )
    strategies = [with_body]
    if g.signed_by:
        strategies.append(
            signature_forgeries(g).map(lambda headers: Forgery(g.path(), g.body, headers, "sig"))
        )
    else:
        strategies.append(source.map(lambda headers: Forgery(g.path(), g.body, headers, "source")))
    odd_shops = ["no-such-shop", "a%00b", "s" * 300, "%C3%A9", *other_shops]
    strategies.append(
        st.sampled_from(odd_shops).map(
            lambda shop: Forgery(g.path(shop=shop), g.body, g.headers, "shop")
        )
    )
    kinds = [*g.other_kinds, "recurrent", "k" * 40, "pay%00", "%ff"]
    strategies.append(
        st.sampled_from(kinds).map(
            lambda kind: Forgery(g.path(kind=kind), g.body, g.headers, "kind")
        )
    )
    if g.kind:
        strategies.append(st.just(Forgery(g.path(kind=""), g.body, g.headers, "no kind")))
    return st.one_of(*strategies)


def attack(
    server: LiveServer,
    watched: Watched,
    caplog: pytest.LogCaptureFixture,
    strategy: st.SearchStrategy[Forgery],
    *,
    allowed: Callable[[Forgery, httpx.Response], bool],
    max_examples: int = 100,
) -> None:
    """Send every forgery `strategy` makes; none may fail with a 5xx or change anything."""
    caplog.set_level(logging.WARNING)
    before = watched.state()

    @settings(FUZZ, max_examples=max_examples)
    @given(forgery=strategy)
    def send(forgery: Forgery) -> None:
        response = forgery.send(client)
        assert response.status_code < 500, (forgery, response.text)
        assert allowed(forgery, response), (forgery, response.status_code, response.text)

    with httpx.Client(base_url=server.url, timeout=30) as client:
        send()
    assert watched.state() == before
    assert [r.getMessage() for r in caplog.records if r.exc_info] == []


def refused_at_the_edge(response: httpx.Response) -> bool:
    """A NUL anywhere in a request is refused before any hook reads it (`RejectNul`)."""
    return response.status_code == 400 and response.json()["error"]["code"] == "invalid_character"


def refused(forgery: Forgery, response: httpx.Response) -> bool:
    return response.status_code in (401, 403, 404) or refused_at_the_edge(response)


# The hooks under attack, on a Kassa of this module's own


@pytest.fixture(scope="module")
def kassa(own_database_url: str) -> Iterator[LiveServer]:
    live = LiveServer(own_database_url, trusted_proxies=["127.0.0.1"]).start()
    try:
        yield live
    finally:
        live.stop()


def test_sandbox_forgeries_change_nothing(
    kassa: LiveServer, caplog: pytest.LogCaptureFixture
) -> None:
    shop, other = make_shop(kassa), make_shop(kassa)
    watched = Watched(kassa)
    with api_client(kassa, shop.key) as api:
        payment, second = create_payment(api), create_payment(api, amount=1)
    watched.payment_ids += [payment["id"], second["id"]]
    body, headers = sandbox_body(shop.secret, payment, "succeeded")
    genuine = Genuine(
        "sandbox",
        shop.name,
        body,
        tuple(headers.items()),
        signed_by=frozenset({"x-sandbox-signature"}),
        other_kinds=("pay", "succeeded"),
    )
    ids = [second["id"], second["provider_payment_id"]]
    attack(
        kassa,
        watched,
        caplog,
        forgeries(genuine, other_shops=[other.name], other_ids=ids),
        allowed=refused,
    )
    # The genuine one still works afterwards.
    with httpx.Client(base_url=kassa.url) as client:
        assert Forgery(genuine.path(), body, genuine.headers).send(client).status_code == 200


def api_client(server: LiveServer, key: str) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=30)


@pytest.fixture(scope="module")
def emulator() -> Iterator[cp.CloudPaymentsEmulator]:
    with cp.running() as emulator:
        yield emulator


KINDS = ("check", "pay", "fail", "confirm", "refund", "cancel")


@dataclass(frozen=True)
class CloudPaymentsBases:
    site: cp.Site
    other: cp.Site
    payment_ids: list[str]
    genuine: dict[str, Genuine]


@pytest.fixture(scope="module")
def bases(kassa: LiveServer, emulator: cp.CloudPaymentsEmulator) -> CloudPaymentsBases:
    site, other = cp.connect(kassa, emulator), cp.connect(kassa, emulator)
    watched = Watched(kassa)
    made = cloudpayments_genuine(kassa, site, watched)
    with api_client(kassa, site.shop.key) as api:
        watched.payment_ids.append(create_payment(api, amount=1)["id"])
    return CloudPaymentsBases(site, other, watched.payment_ids, {g.kind or "": g for g in made})


def cloudpayments_genuine(kassa: LiveServer, site: cp.Site, watched: Watched) -> list[Genuine]:
    """One genuine notification of each type, none sent yet, each about a payment in the
    state it would change: a Pay of a hold, a Fail of a declined card, a Confirm of a hold
    captured in part in CloudPayments' cabinet, a Cancel of a hold voided there, a Refund made
    there, and the Check of a payment whose card was then declined."""
    emulator = site.emulator
    auth = (site.public_id, site.api_secret)
    made: dict[str, cp.Sent] = {}
    with api_client(kassa, site.shop.key) as api:
        held = create_payment(api, amount=80000, capture=False)
        pay = site.pay(held, send_outcome=False)
        assert pay.outcome is not None
        made["pay"] = pay.outcome

        declined = create_payment(api)
        fail = site.pay(declined, decline=True, send_outcome=False)
        assert fail.outcome is not None
        made["fail"] = fail.outcome
        made["check"] = [sent for sent in emulator.sent if sent.kind == "check"][-1]

        for kind, call in (("confirm", "confirm"), ("cancel", "void")):
            payment = create_payment(api, amount=80000, capture=False)
            attempt = site.pay(payment)
            body: dict[str, Any] = {"TransactionId": attempt.transaction_id}
            if call == "confirm":
                body["Amount"] = 500
            assert httpx.post(f"{emulator.url}/payments/{call}", json=body, auth=auth).json()[
                "Success"
            ]
            made[kind] = emulator.build(emulator.transactions[attempt.transaction_id], kind)
            watched.payment_ids.append(payment["id"])

        paid = create_payment(api)
        attempt = site.pay(paid)
        refund = {"TransactionId": attempt.transaction_id, "Amount": 100}
        made_refund = httpx.post(f"{emulator.url}/payments/refund", json=refund, auth=auth)
        number = made_refund.json()["Model"]["TransactionId"]
        made["refund"] = emulator.build(emulator.transactions[number], "refund")
    emulator.outbox.clear()  # what the cabinet's actions would notify stays unsent
    watched.payment_ids += [held["id"], declined["id"], paid["id"]]
    return [
        Genuine(
            "cloudpayments",
            site.name,
            sent.content,
            tuple(sent.headers.items()),
            signed_by=frozenset({"content-hmac", "x-content-hmac"}),
            kind=kind,
            other_kinds=tuple(other for other in KINDS if other != kind),
            url_decoded=True,
        )
        for kind, sent in made.items()
    ]


def check_answered(forgery: Forgery, response: httpx.Response) -> bool:
    """A forgery is refused. Only a genuine body at another type's URL may be answered 200:
    at `/check` or `/recurrent`, which change nothing, or where the type fits the body and
    CloudPayments' API bears it out, so that it is about the truth (here a Confirm of 500.00
    at `/pay`, refused as a Pay: the payment is for 800.00). That nothing changed either way
    is what `attack` checks last."""
    if refused_at_the_edge(response):
        return True
    code = response.json().get("code") if response.status_code in (200, 401) else None
    if response.status_code == 200:
        kind = forgery.path.rsplit("/", 1)[-1]
        return code is not None and (kind in ("check", "recurrent") or forgery.what == "kind")
    return response.status_code == 404 or code == 13


@pytest.mark.parametrize("kind", KINDS)
def test_cloudpayments_forgeries_change_nothing(
    kassa: LiveServer, bases: CloudPaymentsBases, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    attack(
        kassa,
        Watched(kassa, bases.payment_ids),
        caplog,
        forgeries(
            bases.genuine[kind],
            other_shops=[bases.other.name],
            other_ids=[bases.payment_ids[-1], "1000001"],
        ),
        allowed=check_answered,
        max_examples=50,
    )


@pytest.fixture(scope="module")
def yookassa() -> Iterator[YooKassaEmulator]:
    with running() as emulator:
        yield emulator


def test_yookassa_forgeries_change_nothing(
    kassa: LiveServer, yookassa: YooKassaEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    """YooKassa signs nothing: Kassa believes a notification only from YooKassa's networks,
    and then only what YooKassa's API says. Forged bodies and headers come from elsewhere
    (a trusted proxy on loopback names the sender); from YooKassa's own address, the
    genuine body is sent to other shops' and other paths' URLs."""

    def connect() -> Any:
        shop_id, secret_key = yookassa.add_shop()
        settings_ = {"shop_id": shop_id, "secret_key": secret_key}
        return make_provider_shop(
            kassa, "yookassa", {**settings_, "api_url": f"{yookassa.base_url}/v3"}
        )

    shop, other = connect(), connect()
    watched = Watched(kassa)
    with shop.api(kassa) as api:
        payment, second = create_payment(api), create_payment(api, amount=100)
    yookassa.pay(payment["provider_payment_id"])  # paid at YooKassa; Kassa not told yet
    watched.payment_ids += [payment["id"], second["id"]]
    body = yookassa.notification("payment.succeeded", payment["provider_payment_id"])
    genuine = Genuine(
        "yookassa",
        shop.name,
        body,
        (("content-type", "application/json"), ("x-forwarded-for", YOOKASSA_ADDRESS)),
        other_kinds=("payment.succeeded", "notification"),
    )

    def elsewhere() -> st.SearchStrategy[tuple[Header, ...]]:
        senders: st.SearchStrategy[tuple[Header, ...]] = st.sampled_from(
            [
                (),
                (("x-forwarded-for", "203.0.113.9"),),
                (("x-forwarded-for", f"{YOOKASSA_ADDRESS}, 203.0.113.9"),),
                (("x-forwarded-for", "2001:db8::1"),),
                (("x-forwarded-for", "not an address"),),
                (("x-forwarded-for", "185.71.76.10é".encode("latin-1")),),
            ]
        )
        return senders.map(lambda sender: (("content-type", "application/json"), *sender))

    ids = [second["provider_payment_id"], second["id"]]
    attack(
        kassa,
        watched,
        caplog,
        forgeries(genuine, other_shops=[other.name], other_ids=ids, unsigned_source=elsewhere),
        allowed=refused,
        max_examples=80,
    )


def test_the_terminal_provider_has_no_hook_to_forge(
    kassa: LiveServer, caplog: pytest.LogCaptureFixture
) -> None:
    shop = make_shop(kassa)
    kassa.call(
        shops.configure_provider(kassa.ctx, shop=shop.shop, provider="terminal", settings={})
    )
    genuine = Genuine("terminal", shop.name, b'{"status": "succeeded"}', (("x", "y"),))
    attack(
        kassa,
        Watched(kassa),
        caplog,
        forgeries(genuine, other_shops=[], other_ids=["pay_x"]),
        allowed=lambda _, response: response.status_code == 404 or refused_at_the_edge(response),
        max_examples=15,
    )


# Signed with the real secret, but odd: unreadable or about nothing, never a 5xx


def test_signed_odd_sandbox_bodies_are_refused_cleanly(
    kassa: LiveServer, caplog: pytest.LogCaptureFixture
) -> None:
    shop = make_shop(kassa)
    watched = Watched(kassa)
    with api_client(kassa, shop.key) as api:
        payment = create_payment(api)
    watched.payment_ids.append(payment["id"])
    body, _ = sandbox_body(shop.secret, payment, "succeeded")
    document = json.loads(body)
    # Signed with the real secret, it is the sandbox speaking: so its ids name no payment of
    # this shop (unless the odd value goes there), and what is checked is that odd text is
    # read cleanly on both databases, never a 5xx.
    document["object"]["id"] = document["object"]["order_id"] = "nobody"
    fields = [
        ("id",),
        ("object", "id"),
        ("object", "order_id"),
        ("object", "amount", "value"),
        ("object", "amount", "currency"),
        ("object", "status"),
        ("object", "failure_code"),
    ]
    odd: st.SearchStrategy[Any] = st.one_of(
        st.sampled_from(ODD_TEXT),
        st.integers(min_value=-(10**30), max_value=10**30),
        st.text(max_size=8).map(lambda text: text + "\x00"),
        st.sampled_from([None, [], {}, True, 1.5]),
    )

    def sign(choice: tuple[tuple[str, ...], Any]) -> Forgery:
        path, value = choice
        changed = json.loads(json.dumps(document))
        target = changed
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        if path == ("object", "failure_code"):
            changed["object"]["status"] = "failed"
        raw = json.dumps(changed, ensure_ascii=False).encode("utf-8", "surrogatepass")
        headers = sandbox_signed(shop, raw)
        return Forgery(f"sandbox/{shop.name}", raw, headers, "signed")

    attack(
        kassa,
        watched,
        caplog,
        st.tuples(st.sampled_from(fields), odd).map(sign),
        allowed=lambda _, response: (
            response.status_code in (200, 401) or refused_at_the_edge(response)
        ),
        max_examples=80,
    )


def sandbox_signed(shop: ShopSetup, body: bytes) -> tuple[Header, ...]:
    signature = sandbox_sign(shop.secret, body)
    return (("content-type", "application/json"), ("x-sandbox-signature", signature))


def test_signed_odd_cloudpayments_bodies_are_refused_cleanly(
    kassa: LiveServer, emulator: cp.CloudPaymentsEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    site = cp.connect(kassa, emulator)
    watched = Watched(kassa)
    with api_client(kassa, site.shop.key) as api:
        payment = create_payment(api)
    watched.payment_ids.append(payment["id"])
    attempt = site.pay(payment, send_outcome=False)
    assert attempt.outcome is not None
    pairs = parse_qsl(attempt.outcome.content.decode(), keep_blank_values=True)
    fields = ["TransactionId", "Amount", "Currency", "InvoiceId", "Status", "OperationType"]
    odd = st.one_of(
        st.sampled_from(ODD_TEXT),
        st.sampled_from(["99999999999999999999", "1" * 5000, "1E+999", "\uff11\uff12\uff13"]),
        st.text(max_size=8).map(lambda text: text + "\x00"),
    )
    charsets = st.sampled_from(["utf-8", "windows-1251", "latin-1"])

    def sign(choice: tuple[str, str, str, str]) -> Forgery:
        name, value, charset, kind = choice
        changed = [(n, value if n == name else v) for n, v in pairs]
        raw = urlencode(changed, encoding=charset, errors="replace").encode()
        headers = (
            ("content-type", "application/x-www-form-urlencoded"),
            ("content-hmac", cp.hmac_b64(site.api_secret, raw)),
        )
        return Forgery(f"cloudpayments/{site.name}/{kind}", raw, headers, "signed")

    attack(
        kassa,
        watched,
        caplog,
        st.tuples(st.sampled_from(fields), odd, charsets, st.sampled_from(KINDS)).map(sign),
        allowed=lambda _, response: (
            response.status_code in (200, 401) or refused_at_the_edge(response)
        ),
        max_examples=80,
    )
