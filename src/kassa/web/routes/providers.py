"""`/v1/providers`: the shop's enabled providers and what they offer."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from kassa.domain import CURRENCY_EXPONENTS
from kassa.services.catalog import provider_class
from kassa.services.shops import shops
from kassa.web.deps import CallerDep, ContextDep
from kassa.web.objects import list_object
from kassa.web.schemas import ERRORS

router = APIRouter(prefix="/v1/providers", tags=["providers"])


class ProviderOut(BaseModel):
    object: str
    provider: str
    title: str
    test: bool
    methods: list[str]
    currencies: list[str]
    capabilities: dict[str, bool]


class ProviderList(BaseModel):
    object: str
    data: list[ProviderOut]
    has_more: bool


@router.get("", summary="List the shop's providers", response_model=ProviderList, responses=ERRORS)
async def list_providers(ctx: ContextDep, caller: CallerDep) -> Any:
    """The providers this key can create payments with, their methods and capabilities."""
    accounts = await shops.list_accounts(
        ctx, shop_id=caller.own_shop.id, test=caller.own_mode, enabled_only=True
    )
    data = []
    for account in accounts:
        cls = provider_class(account.provider)
        capabilities = cls.capabilities
        data.append(
            {
                "object": "provider",
                "provider": cls.name,
                "title": cls.title,
                "test": account.test,
                "methods": sorted(cls.methods),
                "currencies": sorted(cls.currencies or CURRENCY_EXPONENTS),
                "capabilities": {
                    "two_stage": capabilities.two_stage,
                    "partial_capture": capabilities.partial_capture,
                    "cancel": capabilities.cancel,
                    "refunds": capabilities.refunds,
                    "partial_refunds": capabilities.partial_refunds,
                },
            }
        )
    return list_object(data)
