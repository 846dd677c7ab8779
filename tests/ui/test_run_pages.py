"""The run page (everything recorded about a run), artifact downloads and 404 pages."""

from __future__ import annotations

import hashlib
from html import unescape

from starlette.testclient import TestClient
from ui_helpers import FINGERPRINT, Seeded


def _section(html: str, heading: str) -> str:
    return html.split(f"<h2>{heading}</h2>", 1)[1].split("<h2>", 1)[0]


def test_run_page_shows_what_the_run_recorded(client: TestClient, seeded: Seeded, model_bytes: bytes) -> None:
    response = client.get(f"/runs/{seeded.best}")
    assert response.status_code == 200
    html = unescape(response.text)
    assert seeded.best in html and "c0ffee1234" in html and "(clean)" in html
    assert "model__C" in _section(html, "Params") and "1.0" in _section(html, "Params")
    assert "holdout_roc_auc" in _section(html, "Metrics") and "cv_roc_auc_fold" not in _section(html, "Metrics")
    folds = _section(html, "Cross-validation folds")
    assert [s in folds for s in ("0.8100", "0.8400", "0.8300")] == [True] * 3
    candidates = _section(html, "Search candidates")
    assert "3 candidates, best first" in candidates
    first_row = candidates.split("<tr>")[2]
    assert "0.83" in first_row and "params.model__C" in candidates  # rank 1 first, params spread out
    artifacts = _section(html, "Artifacts")
    assert hashlib.sha256(model_bytes).hexdigest() in artifacts
    assert f'href="/runs/{seeded.best}/artifacts/model.skops"' in artifacts
    datasets = _section(html, "Datasets")
    assert FINGERPRINT in datasets and "data/churn.csv" in datasets and "400" in datasets
    assert "scikit-learn" in _section(html, "Code and environment")
    assert "target: churned" in _section(html, "Spec snapshot")


def test_failed_run_shows_its_error(client: TestClient, seeded: Seeded) -> None:
    html = unescape(client.get(f"/runs/{seeded.failed}").text)
    error = _section(html, "Error")
    assert "ValueError: the CSV has no column 'churned'" in error
    assert '<span class="status failed">failed</span>' in html


def test_a_run_opens_by_unique_prefix(client: TestClient, seeded: Seeded) -> None:
    assert client.get(f"/runs/{seeded.best[:12]}").status_code == 200


def test_unknown_run_is_a_404_page(client: TestClient) -> None:
    for run_id in ("f" * 32, "not-hex", "0" * 40):
        response = client.get(f"/runs/{run_id}")
        assert response.status_code == 404, run_id
        assert "<h1>Not found</h1>" in response.text and "does not exist" in unescape(response.text)


def test_artifact_download_serves_the_verified_bytes(client: TestClient, seeded: Seeded, model_bytes: bytes) -> None:
    response = client.get(f"/runs/{seeded.best}/artifacts/model.skops")
    assert response.status_code == 200
    assert response.content == model_bytes
    digest = hashlib.sha256(model_bytes).hexdigest()
    assert response.headers["x-content-sha256"] == digest and response.headers["etag"] == f'"{digest}"'
    assert response.headers["content-type"] == "application/x-skops"
    assert response.headers["content-disposition"] == "attachment; filename*=UTF-8''model.skops"


def test_unknown_artifact_is_a_404_naming_the_ones_there(client: TestClient, seeded: Seeded) -> None:
    response = client.get(f"/runs/{seeded.best}/artifacts/nope.bin")
    assert response.status_code == 404
    assert "has no artifact 'nope.bin'" in unescape(response.text) and "model.skops" in response.text


def test_a_tampered_artifact_is_refused(client: TestClient, seeded: Seeded) -> None:
    ref = seeded.store.runs.get_run(seeded.best).artifacts["cv_results.json"]
    path = seeded.store.artifacts.open_path(ref.sha256, name="cv_results.json")
    path.chmod(0o644)
    path.write_bytes(b"{}")
    response = client.get(f"/runs/{seeded.best}/artifacts/cv_results.json")
    assert response.status_code == 500 and b"{}" not in response.content
    assert "ArtifactIntegrityError" in response.text


def test_unknown_page_is_a_404_page(client: TestClient) -> None:
    response = client.get("/no/such/page")
    assert response.status_code == 404 and "there is no page at /no/such/page" in response.text
    assert client.post("/runs/abc").status_code == 405
