"""Security audit, the parts that are not one layer's: secrets never reach records or logs.

A training run with a database password in ``SKLOOP_STORE_URL``, another in the SQL
source of ``data.train`` (in the userinfo and in the query string), and
``SKLOOP_TOKEN`` set: afterwards no text column of any table of the store, no log
record and no line the CLI printed holds any of them (the passwords are accepted and
ignored by the machine's trust-auth PostgreSQL, so the run really connects with them).
The per-layer checks are in tests/serve/test_security.py (server tokens and paths),
tests/ui/test_security_ui.py (UI forms), tests/store/test_security_paths.py (names and
paths in the store and registry) and tests/registry/test_trust.py (model files).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from skloop.core import StoreError, redact_url
from skloop.store import Store

STORE_PW = "st0re-pw-91"
DATA_PW = "d4ta-pw-37"
QUERY_PW = "qu3ry-pw-55"
TOKEN = "t0ken-value-12"
SECRETS = (STORE_PW, DATA_PW, QUERY_PW, TOKEN)
SPEC = """\
name: churn
seed: 7
data:
  train: data/churn.csv
  target: churned
  id: customer_id
pipeline:
  model:
    class: sklearn.tree.DecisionTreeClassifier
    params: {max_depth: 3}
search:
  strategy: none
  cv: {folds: 2}
"""


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql+psycopg://ana:s3cret@db:5432/x", "postgresql+psycopg://ana:***@db:5432/x"),
        ("postgresql://:s3cret@db/x", "postgresql://:***@db/x"),  # empty user: leaked before
        ("postgresql://ana:p@s3cret@db/x", "postgresql://ana:***@db/x"),  # unencoded @: half leaked before
        ("postgresql://db/x?user=ana&password=s3cret", "postgresql://db/x?user=ana&password=***"),  # leaked before
        (
            "postgresql://ana@db/x?sslpassword=s3cret&sslmode=require",
            "postgresql://ana@db/x?sslpassword=***&sslmode=require",
        ),
        ("s3://AKIA:s3cret@bucket/artifacts", "s3://AKIA:***@bucket/artifacts"),
        ("sqlite:///relative.db", "sqlite:///relative.db"),
        ("sqlite:////tmp/a@b/x.db", "sqlite:////tmp/a@b/x.db"),
        ("postgresql//ana:s3cret@db/x", "postgresql//ana:***@db/x"),  # not a URL: masked all the same
    ],
)
def test_redact_url_masks_every_password(url: str, shown: str) -> None:
    assert redact_url(url) == shown
    assert "s3cret" not in redact_url(url)


def test_store_messages_and_reprs_hide_the_passwords(tmp_path: Path) -> None:
    with pytest.raises(StoreError) as info:
        Store.open("postgresql+nodriver://ana:s3cret@127.0.0.1/x", tmp_path / "a")
    assert "s3cret" not in str(info.value) and "***" in str(info.value)
    with pytest.raises(StoreError) as info:
        Store.open("not a url :s3cret@", tmp_path / "a")
    assert "s3cret" not in str(info.value)
    store = Store.open(f"sqlite:///{tmp_path}/s.db", "s3://AKIA:s3cret@bucket/artifacts")
    try:
        assert "s3cret" not in repr(store) and "s3cret" not in repr(store.artifacts)
    finally:
        store.close()


def _texts(url: str) -> list[str]:
    """Every non-null value of every column of every table, as text."""
    engine = sa.create_engine(url)
    try:
        meta = sa.MetaData()
        meta.reflect(engine)
        out: list[str] = []
        with engine.connect() as conn:
            for table in meta.sorted_tables:
                for row in conn.execute(sa.select(table)):
                    out += [str(v) for v in row if v is not None]
        return out
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_no_password_or_token_reaches_the_run_records_or_the_logs(
    pg_empty_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from skloop.cli import app as cli
    from skloop.workflows import init_example

    init_example(tmp_path / "proj", n_rows=300)
    spec_path = tmp_path / "proj" / "skloop.yaml"
    spec_path.write_text(SPEC)
    # the training table in the PostgreSQL database, read back through a URL holding two passwords
    plain = make_url(pg_empty_url)
    frame = pd.read_csv(spec_path.parent / "data" / "churn.csv")
    engine = sa.create_engine(plain)
    frame.to_sql("churn", engine, index=False)
    engine.dispose()
    data_url = plain.set(password=DATA_PW).render_as_string(hide_password=False) + f"?password={QUERY_PW}"
    spec_text = spec_path.read_text().replace(
        "  train: data/churn.csv", f"  train:\n    url: '{data_url}'\n    query: SELECT * FROM churn"
    )
    spec_path.write_text(spec_text)
    store_url = plain.set(password=STORE_PW).render_as_string(hide_password=False)
    monkeypatch.setenv("SKLOOP_STORE_URL", store_url)
    monkeypatch.setenv("SKLOOP_ARTIFACT_ROOT", str(tmp_path / "artifacts"))
    monkeypatch.setenv("SKLOOP_TOKEN", TOKEN)
    monkeypatch.chdir(spec_path.parent)
    runner = CliRunner()
    with caplog.at_level(logging.DEBUG):
        upgraded = runner.invoke(cli, ["db", "upgrade"], catch_exceptions=False)
        assert upgraded.exit_code == 0, upgraded.output
        trained = runner.invoke(cli, ["train", "-q"], catch_exceptions=False)
        assert trained.exit_code == 0, trained.output
        listed = runner.invoke(cli, ["runs", "--json"], catch_exceptions=False)
        refused = make_url(store_url).set(port=1).render_as_string(hide_password=False)
        bad = runner.invoke(cli, ["runs", "--json"], env={"SKLOOP_STORE_URL": refused})
        port = runner.invoke(cli, ["runs", "--json"], env={"SKLOOP_STORE_URL": store_url.replace(":5432", ":54x")})
    assert listed.exit_code == 0 and '"finished"' in listed.output
    assert bad.exit_code not in (0, 70) and "***" in bad.output, bad.output  # a store error, masked
    assert port.exit_code not in (0, 70) and "***" in port.output, port.output  # was a ValueError (exit 70)
    texts = _texts(pg_empty_url)
    assert any("SELECT * FROM churn" in t for t in texts)  # the source is recorded, masked
    shown = [upgraded.output, trained.output, listed.output, bad.output, port.output, caplog.text, *texts]
    for secret in SECRETS:
        assert not [t for t in shown if secret in t], secret
    assert os.environ["SKLOOP_TOKEN"] == TOKEN  # it was set all along
