"""The computer club's objects as the API and the CLI's `--json` show them. Amounts are in the
club currency's main unit, as decimal strings ("1500.00"), as LoVHub's were; times in seconds.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kassa.domain import Payment
from kassa.domain.devices import Operation
from kassa.domain.money import format_major
from kassa.services.club.apps import App, Launch
from kassa.services.club.clubs import Club, Zone
from kassa.services.club.customers import Customer
from kassa.services.club.ledger import Entry
from kassa.services.club.packages import Package, PurchasePreview
from kassa.services.club.pcs import Pc
from kassa.services.club.pricing import PlayPreview, Tariff
from kassa.services.club.session_records import Session
from kassa.services.club.shifts import Report, Shift
from kassa.services.club.topups import Topup
from kassa.services.objects import timestamp


def club_object(club: Club) -> dict[str, Any]:
    return {
        "object": "club",
        "id": club.id,
        "name": club.name,
        "currency": club.currency,
        "timezone": club.timezone,
        "lease_max": club.lease_max,
        "offline_policy": club.offline_policy,
        "language": club.language,
        "test": club.test,
        "created_at": timestamp(club.created_at),
    }


def zone_object(zone: Zone) -> dict[str, Any]:
    return {"object": "club_zone", "name": zone.name}


def pc_object(pc: Pc, now: datetime) -> dict[str, Any]:
    return {
        "object": "club_pc",
        "name": pc.name,
        "alias": pc.alias,
        "zone": pc.zone,
        "enabled": pc.device.enabled,
        "online": pc.online(now),
        "last_seen_at": timestamp(pc.device.last_seen_at),
    }


def customer_object(customer: Customer, club: Club) -> dict[str, Any]:
    return {
        "object": "club_customer",
        "id": customer.id,
        "login": customer.login,
        "name": customer.name,
        "phone": customer.phone,
        "group": customer.group,
        "balance": format_major(customer.balance, club.currency),
        "time_bank": customer.time_bank,
        "status": customer.status,
        "created_at": timestamp(customer.created_at),
    }


def entry_object(entry: Entry, club: Club) -> dict[str, Any]:
    return {
        "object": "club_ledger_entry",
        "id": entry.id,
        "kind": entry.kind,
        "amount": format_major(entry.amount, club.currency),
        "seconds": entry.seconds,
        "method": entry.method,
        "actor": entry.actor,
        "reason": entry.reason,
        "created_at": timestamp(entry.created_at),
    }


def package_object(package: Package, club: Club) -> dict[str, Any]:
    return {
        "object": "club_package",
        "name": package.name,
        "seconds": package.seconds,
        "price": format_major(package.price, club.currency),
        "zone": package.zone,
        "window": None if package.window is None else str(package.window),
        "active": package.active,
    }


def tariff_object(tariff: Tariff, club: Club) -> dict[str, Any]:
    return {
        "object": "club_tariff",
        "zone": tariff.zone,
        "per_minute": format_major(tariff.per_minute, club.currency),
        "days": tariff.days,
        "hours": tariff.hours,
    }


def app_object(app: App) -> dict[str, Any]:
    return {
        "object": "club_app",
        "name": app.name,
        "path": app.path,
        "kind": app.kind,
        "icon": app.icon,
        "zones": list(app.zones),
    }


def launch_object(launch: Launch) -> dict[str, Any]:
    return {
        "object": "club_launch",
        "pc": launch.pc,
        "customer": launch.customer,
        "app": launch.app,
        "at": timestamp(launch.at),
    }


def purchase_preview_object(preview: PurchasePreview, club: Club) -> dict[str, Any]:
    return {
        "object": "club_preview",
        "kind": "purchase",
        "package": package_object(preview.package, club),
        "price": format_major(preview.package.price, club.currency),
        "balance": format_major(preview.balance, club.currency),
        "balance_after": format_major(preview.balance_after, club.currency),
        "allowed": preview.refused is None,
        "refused": preview.refused,
        "expires_at": timestamp(preview.expires_at),
    }


def play_preview_object(preview: PlayPreview, club: Club) -> dict[str, Any]:
    rate = preview.per_minute
    return {
        "object": "club_preview",
        "kind": "play",
        "zone": preview.zone,
        "at": timestamp(preview.at),
        "per_minute": None if rate is None else format_major(rate, club.currency),
        "balance": format_major(preview.balance, club.currency),
        "time_bank": preview.time_bank,
        "seconds": preview.plan.seconds,
        "short": preview.plan.short,
        "amount": format_major(preview.plan.amount, club.currency),
        "uses": [
            {
                "source": use.kind,
                "seconds": use.seconds,
                "amount": format_major(use.amount, club.currency),
                "package": use.package,
            }
            for use in preview.plan.uses
        ],
    }


def topup_object(
    topup: Topup,
    club: Club,
    *,
    login: str,
    payment: Payment | None = None,
    payment_status: str | None = None,
) -> dict[str, Any]:
    """An online top-up; with its payment (as it was created), what the payer must do."""
    if payment is not None:
        payment_status = payment.status.value
    return {
        "object": "club_topup",
        "id": topup.id,
        "customer": login,
        "amount": format_major(topup.amount, club.currency),
        "currency": club.currency,
        "provider": topup.provider if payment is None else payment.provider,
        "status": topup.status,
        "payment": topup.payment_id,
        "payment_status": payment_status,
        "confirmation": None if payment is None else payment.confirmation,
        "created_at": timestamp(topup.created_at),
        "credited_at": timestamp(topup.credited_at),
    }


def report_object(report: Report, club: Club) -> dict[str, Any]:
    def major(amount: int) -> str:
        return format_major(amount, club.currency)

    return {
        "until": timestamp(report.until),
        "opening_cash": major(report.opening_cash),
        "cash": major(report.cash),
        "card": major(report.card),
        "online": major(report.online),
        "sessions": major(report.sessions),
        "session_charges": report.session_charges,
        "packages": major(report.packages),
        "packages_sold": report.packages_sold,
        "corrections": major(report.corrections),
        "correction_seconds": report.correction_seconds,
        "corrections_made": report.corrections_made,
        "expected_cash": major(report.expected_cash),
    }


def shift_object(shift: Shift, club: Club, report: Report | None = None) -> dict[str, Any]:
    """A shift, with `report` (its X report while open) or the Z report recorded at its
    close."""

    def major(amount: int | None) -> str | None:
        return None if amount is None else format_major(amount, club.currency)

    if report is None and shift.report is not None:
        report = Report.from_record(shift.report)
    return {
        "object": "club_shift",
        "id": shift.id,
        "status": "open" if shift.open else "closed",
        "opened_at": timestamp(shift.opened_at),
        "opened_by": shift.opened_by,
        "opening_cash": major(shift.opening_cash),
        "closed_at": timestamp(shift.closed_at),
        "closed_by": shift.closed_by,
        "counted_cash": major(shift.counted_cash),
        "expected_cash": major(shift.expected_cash),
        "difference": major(shift.difference),
        "report": None if report is None else report_object(report, club),
    }


def session_object(session: Session, now: datetime) -> dict[str, Any]:
    return {
        "object": "club_session",
        "id": session.id,
        "pc": session.pc,
        "customer": session.login,
        "state": session.state,
        "open_ended": session.open_ended,
        "started_at": timestamp(session.started_at),
        "paid_until": timestamp(session.paid_until),
        "seconds_left": session.left(now),
        "charged_seconds": session.charged_seconds,
        "lease": session.lease().to_data(),
        "ended_at": timestamp(session.ended_at),
        "end_reason": session.end_reason,
        "agent_ended_at": timestamp(session.agent_ended_at),
    }


def action_object(operation: Operation) -> dict[str, Any]:
    """A remote action on a PC and whether its agent did it."""
    return {
        "object": "club_pc_action",
        "id": operation.request_id,
        "pc": operation.device_id,
        "action": operation.kind,
        "state": operation.state.value,
        "body": dict(operation.body),
        "result": operation.result,
        "error": None if operation.error is None else operation.error.code,
        "created_at": timestamp(operation.created_at),
    }
