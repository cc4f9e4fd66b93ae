"""The poller function: one scheduled poll of one instance (`{"instanceId": <id>}` from its schedule),
or one run of its backfill (`{"instanceId": <id>, "backfill": "<backfill id>"}` from the backfill's).

Wiring only: the decorator stack and one logic call.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from intercom_events.config import require_settings
from intercom_events.logic import backfill, polling
from intercom_events.observability import logger, metrics, trace_httpx, tracer

trace_httpx()  # every call to Intercom is an httpx call, traced as the AWS calls are


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    require_settings("poller")
    instance_id = event.get("instanceId") if isinstance(event, dict) else None
    if not isinstance(instance_id, int | str) or not str(instance_id).isdigit():
        raise ValueError('The poller expects {"instanceId": <whole number>} from its schedule')
    instance_id = int(instance_id)
    logger.append_keys(instance_id=instance_id)
    backfill_id = event.get("backfill")
    if backfill_id is not None:
        if not isinstance(backfill_id, str) or not 0 < len(backfill_id) <= 64:
            raise ValueError('A backfill run expects {"backfill": "<backfill id>"} from its schedule')
        logger.append_keys(backfill_id=backfill_id)
        return backfill.run(
            instance_id,
            backfill_id,
            time_left=lambda: context.get_remaining_time_in_millis() / 1000,
            owner=context.aws_request_id,
        )
    report = polling.poll(
        instance_id,
        time_left=lambda: context.get_remaining_time_in_millis() / 1000,
        owner=context.aws_request_id,
    )
    return report.as_dict()
