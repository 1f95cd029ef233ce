"""Native ``/v1/models``: the model tiers and their prices."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from openlipsync.api.deps import PlatformDep, V1Auth
from openlipsync.jobs.views import v1_models

router = APIRouter(prefix="/v1/models", tags=["models"])


@router.get("")
async def list_models(platform: PlatformDep, principal: V1Auth) -> list[dict[str, Any]]:
    """Model tiers, fastest first, with their price per output second (USD)."""
    return v1_models(platform.settings.prices_per_second)
