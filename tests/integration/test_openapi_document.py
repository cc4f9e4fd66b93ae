"""The OpenAPI document is committed (docs/openapi.json) and must match what the code generates.

Regenerate after changing a route or a model: `make openapi`.
"""

from __future__ import annotations

import json

from tests.conftest import ROOT, http_answer, load_event

COMMITTED = ROOT / "docs" / "openapi.json"


def test_the_committed_document_is_what_the_code_generates(api):
    status, generated = http_answer(api, load_event("api/openapi.json"))
    assert status == 200
    committed = json.loads(COMMITTED.read_text())
    assert generated == committed, "docs/openapi.json drifted from the code: run `make openapi`"
