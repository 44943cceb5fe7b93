"""Schemathesis against the app's own OpenAPI document, in process (ASGI), with every
check: no 500, every status code, content type, header and body as documented, schema-
valid requests accepted and invalid ones refused, authentication enforced where it is
declared, unsupported methods answered 405 with the right Allow header.

Run twice: as admin (the bearer token) and anonymous. Bounded to about a minute each on
2 cores: few examples per operation, no shrinking, a fixed seed so a failure is
reproducible (set HX_SCHEMATHESIS_SEED to explore other inputs, HX_SCHEMATHESIS_EXAMPLES
for more of them)."""
from __future__ import annotations

import os
import time

import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import strategies as st  # noqa: E402
from schemathesis.engine import events  # noqa: E402

from api.schemas.types import READABLE_TEXT  # noqa: E402

from tests.api.conftest import ADMIN  # noqa: E402

SEED = int(os.environ.get("HX_SCHEMATHESIS_SEED", "20261203"))
EXAMPLES = int(os.environ.get("HX_SCHEMATHESIS_EXAMPLES", "8"))
CHECKS = ("not_a_server_error", "status_code_conformance", "content_type_conformance",
          "response_schema_conformance", "response_headers_conformance", "positive_data_acceptance",
          "negative_data_rejection", "use_after_free", "ensure_resource_availability",
          "missing_required_header", "ignored_auth", "unsupported_method", "allow_header_conformance")
# The server-sent event streams (GET /api/staff/events, GET /api/web/conversations/{id}/events)
# stay open until the client goes away and no event may come: a request to them never
# ends on its own, so they are left out (tests/api/test_live.py covers them).
STREAMS = r"/events$"
# Rules a JSON Schema cannot say (a reply variant's template and its {variables} as the
# domain files define them, an offer's end date after its start, a festival's dates, an
# order's SKUs from the product table) are refused with 422 and a Chinese reason: for
# these operations 422 is an accepted answer to a schema-valid request.
# So is a timeline's ``before_event`` without ``before``, and a customer merged into itself,
# and a product whose attribute names break the catalogue's bounds (a JSON object's keys
# have no length or pattern in the document).
BUSINESS_RULES = (r"^/api/(admin/(variants|preview|offers|catalogue/products)|orders"
                  r"|customers/\{(customer|target)_id\}/(timeline|merge))")


# What the document's "readable-text" format allows (api/schemas/types.py: StaffText):
# no control character but newline and tab, no private-use, surrogate or unassigned code
# point. Schema-valid bodies are built with it; its violations are tested in
# tests/api/test_bad_input.py.
schemathesis.openapi.format(READABLE_TEXT, st.text(
    st.characters(exclude_categories=("Cc", "Cs", "Co", "Cn")) | st.sampled_from("\n\t")))


def _config(headers: dict[str, str]):
    checks = {name: {"enabled": True} for name in CHECKS}
    checks["max_response_time"] = 20.0  # seconds: generous, a busy CI machine is no benchmark
    return schemathesis.Config.from_dict({
        "seed": SEED,
        "headers": headers,
        "checks": checks,
        "generation": {"max-examples": EXAMPLES, "no-shrink": True, "mode": "all",
                       "database": "none"},
        # Values seen in earlier responses are not fed back as inputs: the API-token
        # admin's staff id is null, which would be sent as the path segment "null".
        "phases": {"examples": {"enabled": True},
                   "coverage": {"enabled": True, "extra-data-sources": {"responses": False}},
                   "fuzzing": {"enabled": True, "extra-data-sources": {"responses": False}},
                   "stateful": {"enabled": False}},
        "request-timeout": 30,
        "operations": [{
            "include-path-regex": BUSINESS_RULES,
            "checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", "401", "403", "404", "409", "422"]}},
        }],
    })


def _run(client, headers: dict[str, str]) -> tuple[list[str], float, int]:
    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app, config=_config(headers))
    schema = schema.exclude(path_regex=STREAMS)
    started = time.monotonic()
    failures: list[str] = []
    scenarios = 0
    for event in schemathesis.engine.from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            scenarios += 1
            failures.extend(_failures(event.recorder))
        elif isinstance(event, (events.NonFatalError, events.FatalError)):
            failures.append(f"error: {getattr(event, 'label', '')} {getattr(event, 'value', None) or event.exception!r}")
        elif isinstance(event, events.EngineFinished):
            for failure in event.failures:
                failures.append(f"{failure.operation}: {failure.title}: {failure.message}"[:600])
    return failures, time.monotonic() - started, scenarios


def _failures(recorder) -> list[str]:
    found = []
    for case_id, checks in recorder.checks.items():
        for check in checks:
            if check.failure_info is None:
                continue
            failure = check.failure_info.failure
            case = recorder.cases[case_id].value
            found.append(f"{recorder.label} [{check.name}] {failure.title}: {failure.message[:300]}\n"
                         f"    {case.method} {case.formatted_path} query={case.query} body={str(case.body)[:200]}"
                         f" headers={ {k: v for k, v in (case.headers or {}).items() if k.lower() != 'authorization'} }")
    return found


@pytest.mark.parametrize("who", ["admin", "anonymous"])
def test_the_api_does_what_its_openapi_document_says(client, who):
    headers = {"Authorization": f"Bearer {ADMIN}"} if who == "admin" else {}
    failures, seconds, scenarios = _run(client, headers)
    print(f"schemathesis ({who}): {scenarios} scenarios, {len(failures)} failures in {seconds:.0f}s")
    assert scenarios > 50
    assert failures == [], "\n".join(failures)
