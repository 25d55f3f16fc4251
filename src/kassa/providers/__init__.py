"""Payment providers: one module each, registered here and nowhere else."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from kassa.domain import ParameterInvalid
from kassa.providers.base import (
    Capabilities,
    CheckResult,
    Confirmation,
    CredentialField,
    CryptoTransferConfirmation,
    HookReply,
    InboundRequest,
    InvoiceLinkConfirmation,
    Notification,
    OperationRequest,
    PayerPage,
    PaymentCheck,
    PaymentRequest,
    Provider,
    ProviderPayment,
    QrConfirmation,
    RedirectConfirmation,
    RequisitesConfirmation,
    SimulatedNotification,
    TerminalConfirmation,
    Verdict,
    WidgetConfirmation,
)
from kassa.providers.cloudpayments import CloudPaymentsProvider
from kassa.providers.cryptopay import CryptoPayProvider
from kassa.providers.kaspi import KaspiProvider
from kassa.providers.oneplat import OnePlatProvider
from kassa.providers.sandbox import SandboxProvider
from kassa.providers.telegram_stars import TelegramStarsProvider
from kassa.providers.terminal import TerminalProvider
from kassa.providers.tron_usdt import TronUsdtProvider
from kassa.providers.yookassa import YooKassaProvider

PROVIDERS: Mapping[str, type[Provider]] = MappingProxyType(
    {
        provider.name: provider
        for provider in (
            SandboxProvider,
            YooKassaProvider,
            CloudPaymentsProvider,
            TerminalProvider,
            CryptoPayProvider,
            OnePlatProvider,
            KaspiProvider,
            TronUsdtProvider,
            TelegramStarsProvider,
        )
    }
)


def provider_class(name: str) -> type[Provider]:
    """The provider called `name`, or `ParameterInvalid` listing the known ones."""
    try:
        return PROVIDERS[name]
    except KeyError:
        known = ", ".join(sorted(PROVIDERS))
        raise ParameterInvalid(
            f"Unknown provider {name!r}; known providers: {known}", param="provider"
        ) from None


__all__ = [
    "PROVIDERS",
    "Capabilities",
    "CheckResult",
    "Confirmation",
    "CredentialField",
    "CryptoTransferConfirmation",
    "HookReply",
    "InboundRequest",
    "InvoiceLinkConfirmation",
    "Notification",
    "OperationRequest",
    "PayerPage",
    "PaymentCheck",
    "PaymentRequest",
    "Provider",
    "ProviderPayment",
    "QrConfirmation",
    "RedirectConfirmation",
    "RequisitesConfirmation",
    "SimulatedNotification",
    "TerminalConfirmation",
    "Verdict",
    "WidgetConfirmation",
    "provider_class",
]
