"""Operations: what a load balancer or a deployment check asks."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router

from ..models.answers import HealthAnswer
from ..store import instances as instance_store

router = Router()
TAGS = ["Operations"]


@router.get("/health", security=[{}], tags=TAGS, responses={200: {"description": "The table answers"}})
def health() -> HealthAnswer:
    instance_store.reachable()
    return HealthAnswer(status="ok")
