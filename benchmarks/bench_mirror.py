"""The MLflow mirror's cost to training: ``train`` with and without ``tracking.mlflow_uri``.

Starts a real ``mlflow server`` on 127.0.0.1 (SQLite backend in a temporary folder),
then trains the bundled example alternately without and with the mirror, ``--repeats``
times each, timing :meth:`Project.train` (what the user waits for) and, with the
mirror, how long after training the run, its version and model are on the server
(copied by the background drainer). Prints the medians, the ratio and the load average.

    PYTHONPATH=src python benchmarks/bench_mirror.py --rows 2000 --repeats 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "integrations"))

from mlflow_server import MlflowServer

from skloop.workflows import Project, init_example

SPEC = """\
name: churn
seed: 7
data: {{train: data/churn.csv, target: churned, id: customer_id, holdout: 0.2}}
pipeline:
  model: {{class: sklearn.ensemble.RandomForestClassifier, params: {{n_estimators: 50}}}}
search:
  strategy: grid
  space: {{model__max_depth: [4, 8]}}
  cv: {{folds: 3}}
  scoring: [roc_auc, accuracy]
  refit: roc_auc
{tracking}"""


def _train(root: Path, rows: int, uri: str | None) -> tuple[float, float | None]:
    init_example(root, n_rows=rows, force=True)
    tracking = f"tracking:\n  mlflow_uri: {uri}\n" if uri else ""
    (root / "skloop.yaml").write_text(SPEC.format(tracking=tracking))
    with Project.load(root) as project:
        t0 = time.perf_counter()
        project.train()
        trained = time.perf_counter() - t0
        if uri is None:
            return trained, None
        while project.store.mirror.status().pending:
            time.sleep(0.2)
        return trained, time.perf_counter() - t0 - trained


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = MlflowServer(Path(tmp) / "server")
        t0 = time.perf_counter()
        server.start()
        print(f"mlflow server ready in {time.perf_counter() - t0:.1f} s")
        plain, mirrored, lag = [], [], []
        try:
            for i in range(args.repeats):
                plain.append(_train(Path(tmp) / f"plain{i}", args.rows, None)[0])
                took, behind = _train(Path(tmp) / f"mirror{i}", args.rows, server.uri)
                mirrored.append(took)
                lag.append(behind or 0.0)
        finally:
            server.stop()
    p, m = statistics.median(plain), statistics.median(mirrored)
    print(f"rows={args.rows} repeats={args.repeats} load average={os.getloadavg()}")
    print(f"{'train':<28}{'median s':>10}  runs")
    print(f"{'without the mirror':<28}{p:>10.2f}  {' '.join(f'{x:.2f}' for x in plain)}")
    print(f"{'with the mirror':<28}{m:>10.2f}  {' '.join(f'{x:.2f}' for x in mirrored)}")
    print(f"{'mirrored after training':<28}{statistics.median(lag):>10.2f}  {' '.join(f'{x:.2f}' for x in lag)}")
    print(f"ratio with/without: x{m / p:.3f}")


if __name__ == "__main__":
    main()
