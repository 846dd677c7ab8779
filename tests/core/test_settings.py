from __future__ import annotations

from pathlib import Path

import pytest

from skloop.core import Settings, UsageError


def test_defaults_live_under_the_project(tmp_path: Path) -> None:
    s = Settings.from_env(tmp_path, env={})
    assert s.store_url == f"sqlite:///{tmp_path.resolve()}/.skloop/skloop.db"
    assert s.artifact_root == str(tmp_path.resolve() / ".skloop" / "artifacts")
    assert s.token is None


def test_environment_overrides(tmp_path: Path) -> None:
    env = {
        "SKLOOP_STORE_URL": "postgresql+psycopg://u@h/db",
        "SKLOOP_ARTIFACT_ROOT": "s3://b/p",
        "SKLOOP_PORT": "9001",
        "SKLOOP_TOKEN": "t",
    }
    s = Settings.from_env(tmp_path, env=env)
    assert (s.store_url, s.artifact_root, s.port, s.token) == ("postgresql+psycopg://u@h/db", "s3://b/p", 9001, "t")
    assert s.with_overrides(port=1, token=None).port == 1


def test_trust_is_off_unless_skloop_trust_says_yes(tmp_path: Path) -> None:
    assert Settings.from_env(tmp_path, env={}).trust is False
    for text, expected in (("1", True), ("true", True), ("YES", True), ("0", False), ("false", False), ("", False)):
        assert Settings.from_env(tmp_path, env={"SKLOOP_TRUST": text}).trust is expected, text
    with pytest.raises(UsageError, match=r"SKLOOP_TRUST='maybe' is not a yes/no value; use 1 or 0"):
        Settings.from_env(tmp_path, env={"SKLOOP_TRUST": "maybe"})


def test_artifact_options_are_a_json_object_never_shown(tmp_path: Path) -> None:
    env = {"SKLOOP_ARTIFACT_OPTIONS": '{"endpoint_url": "http://127.0.0.1:9000", "secret": "s3cr3t"}'}
    settings = Settings.from_env(tmp_path, env=env)
    assert settings.artifact_options == {"endpoint_url": "http://127.0.0.1:9000", "secret": "s3cr3t"}
    assert "s3cr3t" not in repr(settings)
    assert Settings.from_env(tmp_path, env={}).artifact_options is None
    for text, says in (("{not json", "is not valid JSON"), ('["a"]', "must be a JSON object")):
        with pytest.raises(UsageError, match=f"SKLOOP_ARTIFACT_OPTIONS {says}"):
            Settings.from_env(tmp_path, env={"SKLOOP_ARTIFACT_OPTIONS": text})
