"""The poller function: one scheduled poll of one instance (`{"instanceId": <id>}` from its schedule).

Wiring only: the decorator stack and one logic call.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from intercom_events.logic import polling
from intercom_events.observability import logger, metrics, tracer


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    instance_id = event.get("instanceId") if isinstance(event, dict) else None
    if not isinstance(instance_id, int | str) or not str(instance_id).isdigit():
        raise ValueError('The poller expects {"instanceId": <whole number>} from its schedule')
    instance_id = int(instance_id)
    logger.append_keys(instance_id=instance_id)
    report = polling.poll(
        instance_id,
        time_left=lambda: context.get_remaining_time_in_millis() / 1000,
        owner=context.aws_request_id,
    )
    return report.as_dict()
