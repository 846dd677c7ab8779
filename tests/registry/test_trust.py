"""Trust comes from the caller (flags, SKLOOP_TRUST, the project's spec), never from a model's records."""

from __future__ import annotations

import io
from pathlib import Path

import joblib
import pytest
from sklearn.linear_model import LogisticRegression

from skloop.core import ArtifactIntegrityError, Settings, UntrustedModelError, spec_from_dict
from skloop.registry import Registry, Trust, TrustedPickleWarning, load_model, save_model
from skloop.store import Store


class Touch:
    """A pickle whose unpickling creates ``path`` (what a malicious model artifact does)."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (exec, (f"open({self.path!r}, 'w').close()",))


def touch_pickle(marker: Path) -> bytes:
    buf = io.BytesIO()
    joblib.dump(Touch(marker), buf)
    return buf.getvalue()


def register_joblib(store: Store, data: bytes, name: str = "churn") -> str:
    """Register ``data`` as the next joblib version of ``name``; its ref."""
    with store.runs.start_run(name, spec={"name": name}) as run:
        store.runs.log_artifact(run.id, "model.joblib", data)
    return Registry(store).register(run.id, name, format="joblib").ref


def test_trust_defaults_to_nothing_and_combines() -> None:
    assert Trust() == Trust(pickle=False, types=())
    both = Trust(types=["b.B", "a.A", "b.B"]) | Trust(pickle=True, types=["a.A"])
    assert both == Trust(pickle=True, types=("a.A", "b.B"))
    assert (Trust() | Trust()).pickle is False


def test_trust_of_reads_the_callers_settings_spec_and_flags(tmp_path: Path) -> None:
    spec = spec_from_dict(
        {"name": "churn", "data": {"train": "d.csv", "target": "y"}, "registry": {"trusted_types": ["a.A"]}}
    )
    off = Settings.from_env(tmp_path, env={})
    on = Settings.from_env(tmp_path, env={"SKLOOP_TRUST": "1"})
    assert Trust.of(off) == Trust()
    assert Trust.of(on) == Trust(pickle=True)
    assert Trust.of(off, spec, types=["b.B"]) == Trust(types=("a.A", "b.B"))
    assert Trust.of(off, spec, pickle=True).pickle


def test_a_registered_pickle_runs_nothing_without_the_callers_trust(reg_store: Store, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    ref = register_joblib(reg_store, touch_pickle(marker))
    assert reg_store.models.get_model_version("churn", 1).artifact_format == "joblib"  # recorded, and not trust
    registry = Registry(reg_store)
    for trust in (None, Trust(), Trust(types=["builtins.exec"])):
        with pytest.raises(UntrustedModelError) as info:
            registry.load_model(ref, trust=trust)
        message = str(info.value)
        assert "\n" not in message and ref in message and "--trust" in message and "SKLOOP_TRUST=1" in message
    assert not marker.exists()
    # proof that the refusal mattered: the caller's trust runs the payload
    with pytest.warns(TrustedPickleWarning):
        registry.load_model(ref, trust=Trust(pickle=True))
    assert marker.exists()


def test_the_hash_is_checked_before_a_trusted_pickle_is_loaded(reg_store: Store, tmp_path: Path) -> None:
    model = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
    ref = register_joblib(reg_store, save_model(model, "joblib"))
    version = Registry(reg_store).resolve(ref)
    marker = tmp_path / "marker"
    Path(reg_store.artifacts.path_of(version.artifact_sha256)).write_bytes(touch_pickle(marker))
    with pytest.raises(ArtifactIntegrityError, match=version.artifact_sha256):
        Registry(reg_store).load_model(ref, trust=Trust(pickle=True))
    assert not marker.exists()


def test_the_skops_refusal_is_one_line_naming_the_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import skops.io as sio

    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    from registry_payload import SideEffect

    marker = tmp_path / "marker"
    data = sio.dumps(SideEffect(str(marker)))
    with pytest.raises(UntrustedModelError) as info:
        load_model(data, name="the model artifact of churn/7")
    message = str(info.value)
    assert "\n" not in message and "churn/7" in message and "registry_payload.SideEffect" in message
    assert "--trust-type registry_payload.SideEffect" in message and "registry.trusted_types" in message
    assert not marker.exists()
    load_model(data, trust=Trust(types=["registry_payload.SideEffect"]))
    assert marker.exists()
