"""`make local`: the stack on http://127.0.0.1:${LOCAL_API_PORT:-3000}/elements/api-v2 until Ctrl-C."""

from __future__ import annotations

import json
import signal
import sys
import threading
import warnings
from typing import Any

from intercom_events.api.console import CONSOLE_PATH

from local._http import print_line
from local.stack import (
    API_FUNCTION_CONCURRENCY,
    DEFAULT_ORGANIZATION_SECRET,
    DEFAULT_USER_SECRET,
    DISPATCHER_CONCURRENCY,
    POLLER_FUNCTION_CONCURRENCY,
    LocalStack,
)

# Fixed, so a developer's notes and scripts keep working across restarts.
LOCAL_CLIENT_ID = "local-client-id"
LOCAL_CLIENT_SECRET = "local-client-secret"  # noqa: S105 - the simulated Intercom's app
LOCAL_ACCESS_TOKEN = "local-access-token"  # noqa: S105 - the simulated Intercom's token


def log(message: str, **fields: Any) -> None:
    print_line(json.dumps({"level": "INFO", "message": message, **fields}))


def authorization_hints(user_secret: str, organization_secret: str) -> list[dict[str, Any]]:
    """One usable `Authorization` header per user of USER_SECRET (a plain secret, an object or a list)."""
    from intercom_events.store.credentials import parse_users

    try:
        users = parse_users(user_secret)
    except (ValueError, TypeError, KeyError, AttributeError) as error:
        # The functions will refuse it too; say so without repeating it.
        return [{"problem": f"USER_SECRET is not a secret nor a JSON user list: {type(error).__name__}"}]
    return [
        {
            "userId": user.id,
            "userName": user.name,
            "authorization": f"User {user.secret}, Organization {organization_secret}",
        }
        for user in users
    ]


def main() -> int:
    # Powertools warns on every invocation that publishes no metric; the log stays readable without it.
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    try:
        stack = LocalStack(log_requests=True).start()
    except FileNotFoundError as error:
        print(f"cannot start the local stack: {error}", file=sys.stderr)
        return 1
    try:
        env = stack.environment
        app = stack.intercom.register_app(LOCAL_CLIENT_ID, LOCAL_CLIENT_SECRET)
        stack.intercom.issue_token(token=LOCAL_ACCESS_TOKEN)
        defaults = {
            "ORGANIZATION_SECRET": DEFAULT_ORGANIZATION_SECRET,
            "USER_SECRET": DEFAULT_USER_SECRET,
        }
        log("local stack started", apiUrl=stack.api_url)
        log(
            "secrets in use",
            organizationSecret=env["ORGANIZATION_SECRET"],
            users=authorization_hints(env["USER_SECRET"], env["ORGANIZATION_SECRET"]),
            note=(
                "development defaults: set ORGANIZATION_SECRET and USER_SECRET to change them"
                if any(env[k] == v for k, v in defaults.items())
                else "from the environment"
            ),
        )
        log(
            "callbacks",
            callbackAllowedHosts=env["CALLBACK_ALLOWED_HOSTS"],
            allowHttpCallbacks=env["ALLOW_HTTP_CALLBACKS"],
            note=(
                "loopback and private hosts listed here are let through the callback guard"
                if env["CALLBACK_ALLOWED_HOSTS"]
                else "empty: no host is let through; callbacks reach public addresses only, as deployed"
            ),
        )
        log(
            "functions",
            executionEnvironments={
                "api": API_FUNCTION_CONCURRENCY,
                "dispatcher": DISPATCHER_CONCURRENCY,
                "poller": POLLER_FUNCTION_CONCURRENCY,
            },
            note="child processes started when first needed, as Lambda's sandboxes; their logs pass through",
        )
        log(
            "intercom",
            intercomApiBaseUrl=stack.intercom_base_url,
            simulated=stack.intercom_base_url == stack.intercom.url,
            clientId=app.client_id,
            clientSecret=app.client_secret,
            accessToken=LOCAL_ACCESS_TOKEN,
            consentUrl=f"{stack.intercom.url}/oauth?client_id={app.client_id}&redirect_uri=<your callback>",
        )
        log(
            "aws (moto)",
            endpointUrl=stack.aws.endpoint_url,
            tableName=stack.aws.table_name,
            queueUrl=stack.aws.queue_url,
            deadLetterQueueUrl=stack.aws.dlq_url,
        )
        log(
            "schedules fire at their intervals",
            scheduleGroupName=stack.aws.schedule_group_name,
            pollerFunctionArn=stack.aws.poller_function_arn,
            checkEverySeconds=stack.scheduler.tick_seconds,
            note="EventBridge Scheduler emulated: rate() and at() schedules invoke the poller here",
        )
        log(
            "console",
            consoleUrl=f"{stack.api_url}{CONSOLE_PATH}",
            note=(
                "sign in with a user secret and the organization secret above; create instances with "
                "'Access token' and the accessToken above, or through OAuth with the app above: the "
                "consent page is the simulated Intercom's, which agrees at once"
            ),
        )
        log("press Ctrl-C to stop")
        while not stopping.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop()
        log("local stack stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
