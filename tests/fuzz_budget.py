"""The budget of the hypothesis fuzz targets: small by default, larger on request.

``SKLOOP_FUZZ_EXAMPLES`` (default 100) sets ``max_examples`` of each hypothesis fuzz
target of tests/core, tests/data, tests/registry and tests/store; the schemathesis run
has its own time knob, ``SKLOOP_FUZZ_SECONDS``. E.g. ``SKLOOP_FUZZ_EXAMPLES=20000 pytest
tests -k fuzz`` for a long run.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

FUZZ_EXAMPLES = int(os.environ.get("SKLOOP_FUZZ_EXAMPLES", "100"))


def fuzz_settings(share: float = 1.0) -> settings:
    """Hypothesis settings of a fuzz target: ``share`` of the budget, no deadline, no example database."""
    return settings(
        max_examples=max(1, int(FUZZ_EXAMPLES * share)),
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
    )
