"""Models: versions, status, alias history; promote and rollback through the registry (CSRF, token)."""

from __future__ import annotations

from html import unescape
from typing import Any

import pytest
from starlette.testclient import TestClient
from ui_helpers import TOKEN, Seeded, csrf_of

from skloop.registry import Registry


def _promote(client: TestClient, version: int | str, **fields: str) -> Any:
    page = client.get("/models/churn")
    form = {"csrf_token": csrf_of(page.text), "version": str(version), "alias": "champion", "reason": "better AUC"}
    form.update(fields)
    return client.post("/models/churn/promote", data=form, follow_redirects=False)


def test_models_page_lists_the_model(client: TestClient) -> None:
    html = client.get("/models").text
    assert '<a href="/models/churn">churn</a>' in html and "v2" in html and "rejected" in html


def test_model_page_shows_versions_status_and_why_rejected(client: TestClient, seeded: Seeded) -> None:
    html = unescape(client.get("/models/churn").text)
    assert 'id="v1"' in html and 'id="v2"' in html
    v2 = html.split('id="v2"', 1)[1].split("</tr>", 1)[0]
    assert "rejected" in v2 and "holdout_roc_auc" in v2 and "0.75" in v2
    assert f'href="/runs/{seeded.other}"' in v2
    assert '<a href="#v1" title="retrained or derived from v1">v1</a>' in v2  # its parent, on this page
    v1 = html.split('id="v1"', 1)[1].split("</tr>", 1)[0]
    assert 'href="#v' not in v1  # trained from scratch
    assert "No alias has been set." in html


def test_unknown_model_is_a_404_page(client: TestClient) -> None:
    response = client.get("/models/nope")
    assert response.status_code == 404 and "<h1>Not found</h1>" in response.text
    assert client.get("/models/nope/1/card").status_code == 404
    assert client.get("/models/churn/99/card").status_code == 404
    assert client.get("/models/churn/x/card").status_code == 404


def test_promote_records_the_same_event_as_the_cli(client: TestClient, seeded: Seeded) -> None:
    response = _promote(client, 1, reason="v1 passed its gates")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/models/churn?moved=")
    registry = Registry(seeded.store)
    assert registry.aliases("churn") == {"champion": 1}
    (event,) = registry.history("churn")
    assert (event.action, event.to_version, event.reason) == ("set", 1, "v1 passed its gates")
    assert event.actor == "tester@host via skloop ui"
    html = unescape(client.get(response.headers["location"]).text)
    assert "Moved champion: v– → v1." in html and "v1 passed its gates" in html


def test_promote_without_csrf_is_refused(client: TestClient, seeded: Seeded) -> None:
    client.get("/models/churn")  # the cookie is set, the field is not sent
    response = client.post("/models/churn/promote", data={"version": "1", "reason": "r"}, follow_redirects=False)
    assert response.status_code == 403 and "csrf_token" in response.text
    forged = _promote(client, 1, csrf_token="0" * 32 + "." + "0" * 64)
    assert forged.status_code == 403 and "does not match" in forged.text
    assert Registry(seeded.store).aliases("churn") == {}


def test_csrf_token_of_another_app_is_refused(seeded: Seeded, client: TestClient) -> None:
    from skloop.ui import create_app

    with TestClient(create_app(seeded.store, actor="x")) as other:
        stolen = csrf_of(other.get("/models/churn").text)
    page = client.get("/models/churn")
    assert csrf_of(page.text) != stolen
    client.cookies.set("skloop_csrf", stolen)
    form = {"csrf_token": stolen, "version": "1", "reason": "r"}
    assert client.post("/models/churn/promote", data=form).status_code == 403


def test_promote_needs_the_token_when_one_is_set(token_client: TestClient, seeded: Seeded) -> None:
    page = token_client.get("/models/churn").text
    assert 'name="token" type="password"' in page
    missing = _promote(token_client, 1)
    assert missing.status_code == 401 and "requires the admin token" in missing.text
    wrong = _promote(token_client, 1, token="guess")
    assert wrong.status_code == 401 and "token is wrong" in wrong.text
    assert Registry(seeded.store).aliases("churn") == {}
    assert _promote(token_client, 1, token=TOKEN).status_code == 303
    assert Registry(seeded.store).aliases("churn") == {"champion": 1}


def test_bearer_header_is_accepted_as_the_token(token_client: TestClient, seeded: Seeded) -> None:
    csrf = csrf_of(token_client.get("/models/churn").text)
    response = token_client.post(
        "/models/churn/promote",
        data={"csrf_token": csrf, "version": "1", "reason": "r", "alias": "staging"},
        headers={"Authorization": f"Bearer {TOKEN}"},
        follow_redirects=False,
    )
    assert response.status_code == 303 and Registry(seeded.store).aliases("churn") == {"staging": 1}


@pytest.mark.parametrize(
    ("fields", "status", "message"),
    [
        ({"reason": "  "}, 400, "give a reason"),
        ({"reason": "x" * 5000}, 400, "the limit is 4,096"),
        ({"version_": "two"}, 400, "version must be a number"),
        ({"alias": "a" * 101}, 400, "at most 100 characters"),
    ],
)
def test_bad_promote_forms_are_refused_with_the_reason(
    client: TestClient, seeded: Seeded, fields: dict[str, str], status: int, message: str
) -> None:
    fields = dict(fields)  # the parameters are shared by the store parametrisations
    version = fields.pop("version_", "1")
    response = _promote(client, version, **fields)
    assert response.status_code == status and message in unescape(response.text)
    assert Registry(seeded.store).aliases("churn") == {}


def test_promoting_a_rejected_version_needs_force(client: TestClient, seeded: Seeded) -> None:
    refused = _promote(client, 2)
    assert refused.status_code == 409 and "failed its gates" in unescape(refused.text)
    assert "selected>v2 (rejected)" in refused.text  # the form keeps what was entered
    assert _promote(client, 2, force="on").status_code == 303
    (event,) = Registry(seeded.store).history("churn")
    assert "forced past failed gates" in (event.reason or "")


def test_rollback_moves_the_alias_back(client: TestClient, seeded: Seeded) -> None:
    _promote(client, 1)
    _promote(client, 2, force="on")
    csrf = csrf_of(client.get("/models/churn").text)
    response = client.post(
        "/models/churn/rollback", data={"csrf_token": csrf, "alias": "champion", "reason": "v2 misbehaves"},
        follow_redirects=False,
    )  # fmt: skip
    assert response.status_code == 303
    events = Registry(seeded.store).history("churn")
    assert Registry(seeded.store).aliases("churn") == {"champion": 1}
    assert (events[-1].action, events[-1].reason) == ("rollback", "v2 misbehaves")


def test_rollback_with_no_earlier_holder_is_a_409(client: TestClient) -> None:
    _promote(client, 1)
    csrf = csrf_of(client.get("/models/churn").text)
    response = client.post("/models/churn/rollback", data={"csrf_token": csrf, "reason": "r"})
    assert response.status_code == 409 and "no earlier holder" in response.text


def test_model_card_page(client: TestClient) -> None:
    response = client.get("/models/churn/1/card")
    assert response.status_code == 200 and "churn" in response.text and "<html" in response.text


def test_only_url_encoded_forms_of_bounded_size_are_read(client: TestClient, seeded: Seeded) -> None:
    csrf = csrf_of(client.get("/models/churn").text)
    multipart = client.post("/models/churn/promote", files={"reason": ("r.txt", b"r")}, data={"csrf_token": csrf})
    assert multipart.status_code == 400 and "application/x-www-form-urlencoded" in multipart.text
    huge = client.post("/models/churn/promote", data={"csrf_token": csrf, "version": "1", "reason": "x" * 70_000})
    assert huge.status_code == 400 and "larger than 65,536 bytes" in huge.text
    assert Registry(seeded.store).aliases("churn") == {}
