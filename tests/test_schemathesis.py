"""Schemathesis against the partner API's own OpenAPI document, served by the app itself.

The schema is loaded from GET /api/v1/openapi.json through the WSGI app (no server, no
network); every operation is tested with positive and negative data (Schemathesis' examples,
coverage and fuzzing phases) and every built-in check: not_a_server_error,
status_code_conformance, content_type_conformance, response_headers_conformance,
response_schema_conformance, negative_data_rejection, positive_data_acceptance,
missing_required_header, unsupported_method, ignored_auth, and the rest Schemathesis ships.
Requests carry the partner NGO's bearer token; some reports exist and are routed to it, and
a path's report `number` is one of them half of the time, so 200/201/202 answers are
checked against their schemas too, not only the 404s. A second test runs Schemathesis' stateful
phase: the links it infers (a listed report's number -> its detail, events and messages)
chained into short workflows, checked the same way.

    pytest tests/test_schemathesis.py -s                        # bounded: well under 60 s; -s prints the statuses
    HOTLINE_SCHEMATHESIS_EXAMPLES=1000 pytest tests/test_schemathesis.py -s   # longer (about a minute)
    HOTLINE_SCHEMATHESIS_RANDOM=1 pytest tests/test_schemathesis.py         # new random data each run
"""
from __future__ import annotations

import os
import time
from collections import Counter, defaultdict

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings

from hotline.models import Base
from tests.kit import NGO, TRACING, direct_report

EXAMPLES = int(os.environ.get("HOTLINE_SCHEMATHESIS_EXAMPLES", "150"))
"""Examples per operation in the fuzzing phase (the examples and coverage phases add their own)."""
DERANDOMIZE = not os.environ.get("HOTLINE_SCHEMATHESIS_RANDOM")
"""The same data on every run (CI), unless HOTLINE_SCHEMATHESIS_RANDOM is set."""
OPERATIONS = {"GET /api/v1/reports", "GET /api/v1/reports/{number}", "GET /api/v1/clusters", "POST /api/v1/reports/{number}/events",
              "POST /api/v1/reports/{number}/messages"}
"""Every operation but GET /api/v1/openapi.json, which Schemathesis leaves out as the one serving the schema."""


class Reports:
    """Reports routed by the real routing job; `visible` are the NGO's (it never sees urgent ones)."""

    TYPES = ("recruiter", "missing", "unsorted", "recruiter", "urgent", "missing")

    def __init__(self, services):
        self.services = services
        self.visible: list[str] = []
        self.make()

    def make(self) -> None:
        numbers = [direct_report(self.services, type_, sender=f"+8551300{i:04d}", consent=i % 2 == 0)
                   for i, type_ in enumerate(self.TYPES)]
        self.visible[:] = [n for n, type_ in zip(numbers, self.TYPES) if type_ != "urgent"]

    def reset(self) -> None:
        """Empty tables and Redis, then the same reports again (new numbers)."""
        with self.services.db.begin() as conn:
            for table in reversed(Base.metadata.sorted_tables):
                conn.execute(table.delete())
        self.services.redis.flushdb()
        self.make()


@pytest.fixture
def reports(services, monkeypatch):
    monkeypatch.setenv("NGO_API_TOKEN", NGO)
    monkeypatch.setenv("TRACING_API_TOKEN", TRACING)
    return Reports(services)


WORKFLOW_OPERATIONS = OPERATIONS - {"GET /api/v1/clusters"}
"""What the stateful workflows reach: they follow links from a listed report, and no link leads to the
agency's clusters (the first test calls them)."""


@pytest.fixture
def api_schema(app, reports, request):
    """The app's OpenAPI document as a Schemathesis schema, the NGO's token on every request."""
    visible = reports.visible
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    schema.validate()  # a valid OpenAPI 3.0 document (Schemathesis leaves the operation serving it untested)
    schema.config.update(headers={"Authorization": f"Bearer {NGO}"})
    statuses: dict[str, Counter] = defaultdict(Counter)

    @schema.hook
    def after_call(context, case, response):  # noqa: ANN001, ANN202
        statuses[f"{case.operation.method.upper()} {case.operation.path}"][response.status_code] += 1

    @schema.hook
    def map_path_parameters(context, path_parameters):  # noqa: ANN001, ANN202
        """Half of the well-formed report numbers become reports that exist (chosen by the number itself)."""
        number = (path_parameters or {}).get("number")
        if isinstance(number, str) and len(number) == 7 and number.isascii() and number.isdigit():
            if int(number) % 2 == 0:
                path_parameters["number"] = visible[int(number) // 2 % len(visible)]
        return path_parameters

    started = time.perf_counter()
    yield schema
    total = sum(sum(c.values()) for c in statuses.values())
    print(f"\n== schemathesis: {total} requests in {time.perf_counter() - started:.1f} s")
    for label, counts in sorted(statuses.items()):
        print(f"  {label:40} {sum(counts.values()):5}  " + "  ".join(f"{k}: {v}" for k, v in sorted(counts.items())))
    # The token worked and real reports were reached: every operation answered some success.
    assert set(statuses) == (WORKFLOW_OPERATIONS if "workflows" in request.node.name else OPERATIONS)
    assert all(any(200 <= code < 300 for code in counts) for counts in statuses.values()), dict(statuses)


@pytest.fixture(autouse=True)
def _node_id_for_schemathesis(request):
    """Schemathesis 4.32.5's `from_fixture` reads and writes `node._nodeid`, which pytest 9.2 no longer
    has (it keeps `_id`); giving the node the attribute back is all it needs. Harmless on older pytest."""
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=DERANDOMIZE,
          phases=[Phase.explicit, Phase.generate, Phase.shrink], suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_openapi_document(case):
    """Every operation, positive and negative data, every check."""
    case.call_and_validate()


def test_api_workflows_conform_to_its_openapi_document(api_schema, reports):
    """Stateful: list reports, then follow a listed number to its detail, events and messages; every check.

    Each scenario starts from the same reports (Hypothesis needs the API to answer a replayed
    scenario as before, or it reports the data generation as flaky)."""

    class Workflows(api_schema.as_state_machine()):
        def setup(self) -> None:
            reports.reset()

    Workflows.run(settings=settings(max_examples=max(EXAMPLES // 5, 10), stateful_step_count=6, deadline=None,
                                  derandomize=DERANDOMIZE, suppress_health_check=list(HealthCheck)))
