"""A stand-in for the agent's core in the UI's unit tests: every request answers at once
(with what the test set), every call is recorded, and the test pushes Views as the core would."""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import replace
from typing import Any, TypeVar

from kassa.clubagent.model import AgentError, Listener, Mode, View
from kassa.protocol.club_pc import (
    AppEntry,
    PackageOffer,
    Preview,
    Screen,
    SignedIn,
    StaffGrant,
    Started,
    Topup,
)

T = TypeVar("T")

SCREEN = Screen(
    club="Cyber Arena",
    pc="pc_7",
    alias="PC-07",
    zone="VIP",
    currency="KZT",
    language="ru",
    offline_policy="lock",
    packages=[
        PackageOffer(name="1 hour", seconds=3600, price="800.00", zone=None, available=True),
        PackageOffer(name="3 hours", seconds=10800, price="2000.00", zone="VIP", available=True),
        PackageOffer(name="Night", seconds=28800, price="3500.00", zone=None, available=False),
    ],
    topups=True,
)
CUSTOMER = SignedIn(
    ticket="tkt_1",
    login="aidar",
    name="Aidar",
    balance="5200.00",
    time_bank_seconds=1800,
    package_seconds=0,
)
APPS = (
    AppEntry(name="Counter-Strike 2", path="C:/Games/cs2.exe", kind="game", icon=None),
    AppEntry(name="Dota 2", path="C:/Games/dota2.exe", kind="game", icon=None),
    AppEntry(name="Discord", path="C:/Apps/discord.exe", kind="app", icon=None),
)


def answered(value: T | BaseException) -> Future[T]:
    future: Future[T] = Future()
    if isinstance(value, BaseException):
        future.set_exception(value)
    else:
        future.set_result(value)
    return future


class FakeController:
    """`model.Controller` with canned answers: set `failures[method]` to make one fail."""

    def __init__(self, view: View | None = None) -> None:
        self._view = view or View(online=True, screen=SCREEN)
        self.listeners: list[Listener] = []
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.failures: dict[str, AgentError] = {}
        self.preview_answer = Preview(
            seconds=3600,
            price="800.00",
            time_bank_seconds=0,
            package_seconds=0,
            balance_after="4400.00",
        )

    @property
    def view(self) -> View:
        return self._view

    def push(self, **changes: Any) -> View:
        """The core's next View: the current one with `changes`."""
        self._view = replace(self._view, **changes)
        for listener in self.listeners:
            listener(self._view)
        return self._view

    def subscribe(self, listener: Listener) -> None:
        self.listeners.append(listener)

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]

    def _answer(self, name: str, value: T, **arguments: Any) -> Future[T]:
        self.calls.append((name, arguments))
        return answered(self.failures.get(name) or value)

    def sign_in(self, login: str, password: str) -> Future[SignedIn]:
        future = self._answer("sign_in", CUSTOMER, login=login, password=password)
        if future.exception() is None:
            self.push(mode=Mode.SIGNED_IN, customer=CUSTOMER, notice=None)
        return future

    def sign_out(self) -> None:
        self.calls.append(("sign_out", {}))
        self.push(mode=Mode.LOCKED, customer=None)

    def preview(self, *, package: str | None, minutes: int | None) -> Future[Preview]:
        return self._answer("preview", self.preview_answer, package=package, minutes=minutes)

    def start(self, *, package: str | None, minutes: int | None) -> Future[Started]:
        started = Started(session="ses_1", paid_until="2026-12-06T21:00:00Z", lease={})
        return self._answer("start", started, package=package, minutes=minutes)

    def end_session(self) -> Future[None]:
        return self._answer("end_session", None)

    def top_up(self, login: str, amount: str) -> Future[Topup]:
        topup = Topup(
            id="top_1",
            login=login,
            amount=amount,
            currency="KZT",
            status="pending",
            qr=f"https://club.example/pay/top_1?amount={amount}",
        )
        future = self._answer("top_up", topup, login=login, amount=amount)
        if future.exception() is None:
            self.push(topup=topup)
        return future

    def close_topup(self) -> None:
        self.calls.append(("close_topup", {}))
        self.push(topup=None)

    def launch(self, app: AppEntry) -> Future[None]:
        return self._answer("launch", None, app=app)

    def staff_unlock(self, pin: str) -> Future[StaffGrant]:
        future = self._answer("staff_unlock", StaffGrant(seconds=600), pin=pin)
        if future.exception() is None:
            self.push(mode=Mode.STAFF, staff_seconds_left=600)
        return future

    def staff_lock(self) -> None:
        self.calls.append(("staff_lock", {}))
        self.push(mode=Mode.LOCKED, staff_seconds_left=None)

    def dismiss_message(self) -> None:
        self.calls.append(("dismiss_message", {}))
        self.push(message=None)
