"""`make openapi`: print the API's OpenAPI document as the API function serves it at /openapi.json."""

from __future__ import annotations

import json
import os

from local.stack import load_function


def main() -> None:
    os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "intercom-events")
    os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "IntercomEvents")
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    api_app = load_function("api")
    document = json.loads(api_app.documented().get_openapi_json_schema(title=api_app.TITLE))
    print(json.dumps(document, indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
