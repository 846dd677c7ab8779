"""Schemathesis against the server's own ``/openapi.json``: no 5xx, and answers that conform.

Every operation the document lists is fuzzed (positive and negative cases), with the
``name`` and ``version`` path parameters bound to the served model, against the ASGI app
with a started prediction log. The run is bounded in time: ``SKLOOP_FUZZ_SECONDS``
(default 20) is shared among the operations; set it higher for a longer run, e.g.
``SKLOOP_FUZZ_SECONDS=600 pytest tests/serve/test_schemathesis.py``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

FUZZ_SECONDS = float(os.environ.get("SKLOOP_FUZZ_SECONDS", "20"))
_BATCH = 8  # cases per Hypothesis run; runs repeat (new seeds) until the operation's time is spent
_TOKEN = "fuzz-token"


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A server of its own (labels and reloads write to its store), with a token and a prediction log."""
    from serve_helpers import project_settings, register_churn

    from skloop.serve import PredictionLog, create_app

    base = tmp_path_factory.mktemp("fuzz_project")
    settings = project_settings(base).with_overrides(token=_TOKEN)
    register_churn(settings, n_rows=300)
    log = PredictionLog(base / "wal").start()
    app = create_app(settings, model_name="churn", prediction_log=log, poll_seconds=None)
    try:
        yield app
    finally:
        log.close()
        app.registry.store.close()


def _checks() -> list[Any]:
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    return [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def _fuzz(op: Any, mode: GenerationMode, params: dict[str, str], seconds: float, checks: list[Any]) -> int:
    """Call ``op`` with generated cases for ``seconds``; return how many were sent."""
    deadline = time.monotonic() + seconds
    sent = 0

    @settings(
        max_examples=_BATCH,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=op.as_strategy(generation_mode=mode, path_parameters=params))
    def run(case: Any) -> None:
        nonlocal sent
        if sent and time.monotonic() > deadline:
            return  # the time is spent (and one case was sent, however slow its generation): skip the rest
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {_TOKEN}"}
        response = case.call()
        sent += 1
        case.validate_response(response, checks=checks)

    while time.monotonic() < deadline:
        try:
            run()
        except Unsatisfiable:  # no negative case exists (an operation without parameters or body)
            break
    return sent


def test_every_operation_of_the_openapi_document_answers_within_it(fuzz_app: Any) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzz_app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10, [op.label for op in operations]
    bound = {"name": fuzz_app.model.name, "version": str(fuzz_app.model.version)}
    checks = _checks()
    modes = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    # operations that read a body have the most to get wrong: they get four shares of the time
    weights = {op.label: 4 if op.body else 1 for op in operations}
    share = FUZZ_SECONDS / (sum(weights.values()) * len(modes))
    sent: dict[str, int] = {}
    for op in operations:
        params = {p.name: bound[p.name] for p in op.path_parameters if p.name in bound}
        for mode in modes:
            sent[op.label] = sent.get(op.label, 0) + _fuzz(op, mode, params, share * weights[op.label], checks)
    assert all(sent.values()), sent  # every operation was called


def test_the_fuzzed_server_documents_the_path_parameters_it_binds(fuzz_app: Any) -> None:
    """The binding above relies on the document naming its path parameters ``name`` and ``version``."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzz_app)
    names = {p.name for result in schema.get_all_operations() for p in result.ok().path_parameters}
    assert names <= {"name", "version"}, names
