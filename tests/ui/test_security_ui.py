"""The UI's writes, taken from its route table: CSRF and the token on each, nothing moved when refused.

Also: a wrong token is never echoed back into the page or the log, and no path
parameter (run id, artifact name, model name, version) reaches outside the store.
"""

from __future__ import annotations

import logging

import pytest
from starlette.testclient import TestClient
from ui_helpers import TOKEN, Seeded, csrf_of

from skloop.registry import Registry
from skloop.ui._app import ROUTES

WRITES = [
    (r.path, m)
    for r in ROUTES
    for m in sorted(getattr(r, "methods", None) or ())
    if m in ("POST", "PUT", "PATCH", "DELETE")
]
WRONG = "guess-9f1e-token"


def _fields(path: str) -> dict[str, str]:
    """A valid form for each write route: a new write route must add its own here."""
    return {
        "/models/{name}/promote": {"version": "1", "alias": "champion", "reason": "audit"},
        "/models/{name}/rollback": {"alias": "champion", "reason": "audit"},
    }[path]


def test_the_ui_has_exactly_the_two_alias_forms_as_writes() -> None:
    assert {p for p, _ in WRITES} == {"/models/{name}/promote", "/models/{name}/rollback"}


@pytest.mark.parametrize(("path", "method"), WRITES, ids=[f"{m} {p}" for p, m in WRITES])
def test_every_ui_write_needs_csrf_and_the_token(
    token_client: TestClient, seeded: Seeded, path: str, method: str, caplog: pytest.LogCaptureFixture
) -> None:
    registry = Registry(seeded.store)
    registry.promote("churn", 1, "champion", reason="setup", force=True)
    registry.promote("churn", 2, "champion", reason="setup", force=True)
    before = (registry.aliases("churn"), len(registry.history("churn")))
    url = path.format(name="churn")
    csrf = csrf_of(token_client.get("/models/churn").text)
    attempts = [
        ({**_fields(path), "token": TOKEN}, 403),  # no CSRF field, right token
        ({**_fields(path), "token": TOKEN, "csrf_token": "0" * 32 + "." + "0" * 64}, 403),  # forged CSRF
        ({**_fields(path), "csrf_token": csrf}, 401),  # CSRF, no token
        ({**_fields(path), "csrf_token": csrf, "token": WRONG}, 401),  # CSRF, wrong token
        ({**_fields(path), "csrf_token": csrf, "token": TOKEN[:-1]}, 401),  # a prefix of the token
    ]
    with caplog.at_level(logging.DEBUG):
        for form, status in attempts:
            answer = token_client.request(method, url, data=form, follow_redirects=False)
            assert answer.status_code == status, (form, answer.text[:300])
            assert WRONG not in answer.text and TOKEN not in answer.text  # never echoed into the page
            assert (registry.aliases("churn"), len(registry.history("churn"))) == before
        ok = token_client.request(method, url, data={**_fields(path), "csrf_token": csrf, "token": TOKEN})
    assert ok.status_code == 200 and (registry.aliases("churn"), len(registry.history("churn"))) != before
    assert TOKEN not in caplog.text and WRONG not in caplog.text


HOSTILE_PATHS = [
    "/runs/..%2F..%2Fetc%2Fpasswd",
    "/runs/%2E%2E/artifacts/x",
    "/runs/{best}/artifacts/../../../../etc/passwd",
    "/runs/{best}/artifacts/..%2F..%2F..%2Fetc%2Fpasswd",
    "/runs/{best}/artifacts/%2Fetc%2Fpasswd",
    "/runs/{best}/artifacts/model.skops%00.txt",
    "/models/..%2F..%2Fetc",
    "/models/%00/1/card",
    "/models/churn/..%2F1/card",
    "/models/churn/monitoring/reports/..%2Fx",
    "/models/churn/monitoring/reports/1/features/..%2F..%2Fetc%2Fpasswd",
    "/static/..%2F..%2F_app.py",
    "/static/../_app.py",
]


def test_no_path_parameter_reaches_outside_the_store(client: TestClient, seeded: Seeded) -> None:
    for path in HOSTILE_PATHS:  # one seeded store for all (a parametrized test would seed one each)
        answer = client.get(path.format(best=seeded.best))
        assert answer.status_code in (400, 404), (path, answer.status_code)
        assert "root:" not in answer.text and "import" not in answer.text[:2000]


def test_an_artifact_is_downloaded_by_its_logged_name_only(client: TestClient, seeded: Seeded) -> None:
    ok = client.get(f"/runs/{seeded.best}/artifacts/cv_results.json")
    assert ok.status_code == 200 and ok.headers["x-content-sha256"]
    assert client.get(f"/runs/{seeded.best}/artifacts/{ok.headers['x-content-sha256']}").status_code == 404
    assert client.get(f"/runs/{seeded.best}/artifacts/sha256/{ok.headers['x-content-sha256'][:2]}").status_code == 404
