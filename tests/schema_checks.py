"""Which schemathesis checks a fuzzed case is held to: shared by the in-process and the deployed fuzzing."""

from __future__ import annotations

import schemathesis
from schemathesis.checks import CheckFunction
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

# A policy document is any string to the schema; whether it is a valid policy is decided by the
# policy schema, which answers 422 naming the bad field. And an over-long document made of escaped
# characters exceeds the byte limit first, which is refused with 413 (tested in test_api_limits).
SEMANTIC_BODIES = {"POST /v1/policies"}
# The dashboard's time window must have `since` before `until` (else 422), which a schema cannot say.
SEMANTIC_QUERIES = "GET /v1/dashboard/"


def semantic_checks(case: schemathesis.Case) -> list[CheckFunction]:
    """Checks that cannot hold for bodies only a deeper validation can accept or refuse."""
    if case.operation.label in SEMANTIC_BODIES or case.operation.label.startswith(SEMANTIC_QUERIES):
        return [positive_data_acceptance, negative_data_rejection]
    return []
