"""Schemathesis against the live OpenAPI of a real ``framewarden serve``: every route, two roles.

Every operation the server publishes gets a bounded number of generated
requests (valid and invalid, derandomized so a failure reproduces), once with
an admin key and once with a viewer key.  What must hold everywhere: no 5xx,
and every 4xx is JSON with a ``detail`` key (a string, or FastAPI's list of
validation errors while that is being changed).  Failures are collected per
operation instead of stopping at the first, so one run shows all of them.
"""

from __future__ import annotations

import collections
import json
from collections.abc import Iterator
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis", reason="the fuzz extra (schemathesis) is not installed")
from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402

from tests.e2e.serve_process import ServeProcess  # noqa: E402

pytestmark = [pytest.mark.slow]
EXAMPLES = 8  # per operation and role: ~29 operations x 2 roles x 8 = ~450 requests, well under a minute


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    root = tmp_path_factory.mktemp("fuzz-serve")
    server = ServeProcess(
        root, 'analyzers = ["hashlist"]\nalert_escalation_s = 0\nimage_rate_limit_per_minute = 100000\n'
    )
    server.create_key("admin")
    server.create_key("viewer")
    server.start()
    yield server
    code = server.stop()
    assert code == 0, f"serve did not exit cleanly after fuzzing ({code}); log:\n{server.tail()}"


def problem(status: int, content_type: str, body: bytes) -> str | None:
    """What is wrong with one answer, or None."""
    if status >= 500:
        return f"HTTP {status}: {body[:300]!r}"
    if 400 <= status < 500:
        if not content_type.startswith("application/json"):
            return f"HTTP {status} is {content_type or 'no content type'}, not JSON: {body[:200]!r}"
        try:
            parsed: Any = json.loads(body)
        except ValueError:
            return f"HTTP {status}: invalid JSON {body[:200]!r}"
        if not isinstance(parsed, dict) or "detail" not in parsed:
            return f"HTTP {status}: no 'detail' key in {body[:200]!r}"
        if not isinstance(parsed["detail"], str | list):
            return f"HTTP {status}: 'detail' is {type(parsed['detail']).__name__}"
    return None


def fuzz_operation(operation: Any, headers: dict[str, str], statuses: collections.Counter[int]) -> list[str]:
    found: list[str] = []

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def run(case: Any) -> None:
        response = case.call(headers=headers, timeout=30)
        statuses[response.status_code] += 1
        content_type = response.headers.get("content-type") or ""  # schemathesis: a list of values
        if isinstance(content_type, list):
            content_type = content_type[0] if content_type else ""
        what = problem(response.status_code, content_type, response.content)
        if what and len(found) < 3:
            found.append(f"{case.method} {case.formatted_path}: {what}")

    run()
    return found


@pytest.mark.parametrize("role", ["admin", "viewer"])
def test_no_server_errors_and_json_details(served: ServeProcess, role: str) -> None:
    schema = schemathesis.openapi.from_url(served.url + "/openapi.json")
    headers = {"Authorization": f"Bearer {served.keys[role]}"}
    statuses: collections.Counter[int] = collections.Counter()
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 25, "the published API lost routes"
    for operation in operations:
        failures += fuzz_operation(operation, headers, statuses)
    print(f"\n{role}: {sum(statuses.values())} requests over {len(operations)} operations, by status: "
          f"{dict(sorted(statuses.items()))}")  # fmt: skip
    assert served.healthy(), served.tail()
    assert not failures, "\n".join(failures) + "\nserver log:\n" + served.tail(3000)
    assert sum(v for k, v in statuses.items() if k < 300) > 0, "nothing got through: the key was not used"
    if role == "viewer":
        assert statuses[403] > 0, "a viewer key must be refused somewhere (admin routes)"


def test_problem_check_can_fail() -> None:
    assert problem(500, "application/json", b"{}")
    assert problem(422, "text/plain", b"nope")
    assert problem(404, "application/json", b'{"error": "x"}')
    assert problem(404, "application/json", b'{"detail": "no such channel"}') is None
    assert problem(200, "text/plain", b"ok") is None
