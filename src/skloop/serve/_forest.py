"""Big batches of a forest: the ONNX graph's preprocessing, then scikit-learn's own trees.

ONNX Runtime's tree ensemble walks every tree for one row before the next row, so each
row drags the whole forest (100 unpruned trees are ~100 MB of nodes) through the caches:
its cost per row is the same at 10 rows as at 10,000. scikit-learn walks one tree over
all the rows (its compiled ``apply``), with that tree in the core's cache; on the
benchmark's forest a 1,000-row call costs ~15 % less CPU and a 10,000-row call less than
half. So a batch of at least :data:`FOREST_ROWS` rows is scored in two steps: the
exported graph cut just before its tree ensemble node computes the feature matrix (the
same float32 matrix the ensemble would read), and the pipeline's fitted forest scores
it, its trees split over the cores (each part's trees summed in a fixed order: the same
answer on any machine and any load). Small batches stay on the whole graph (lower
overhead per call).

The runner is used only when its answers match scikit-learn's pipeline on the parity
rows within the tolerance of the ONNX export's own check; on the churn pipeline they
are identical to the last bit (the preprocessing graph feeds the trees the float32
values scikit-learn casts its own matrix to).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

__all__ = ["FOREST_ROWS", "ForestRunner"]

FOREST_ROWS = 512
"""Batches of at least this many rows are scored by :class:`ForestRunner` (when the model has one)."""

_TREE_OPS = frozenset({"TreeEnsembleClassifier", "TreeEnsembleRegressor", "TreeEnsemble"})
_ATOL = _RTOL = 1e-5  # the export's parity tolerances (skloop.registry.export_onnx's defaults)

Submit = Callable[..., "Future[np.ndarray]"]


def _forest_of(model: Any) -> Any:
    """The pipeline's final step when it is a single-output scikit-learn forest, else ``None``."""
    from sklearn.ensemble import (
        ExtraTreesClassifier,
        ExtraTreesRegressor,
        RandomForestClassifier,
        RandomForestRegressor,
    )

    final = model.steps[-1][1] if hasattr(model, "steps") else model
    forests = (RandomForestClassifier, RandomForestRegressor, ExtraTreesClassifier, ExtraTreesRegressor)
    if not isinstance(final, forests) or getattr(final, "n_outputs_", 1) != 1:
        return None
    return final


class ForestRunner:
    """The feature graph of an ONNX export and the forest that reads its output.

    Parameters
    ----------
    features : onnxruntime.InferenceSession or None
        The export without its tree ensemble node, whose one output is the ensemble's
        input (``None`` when that input is a graph input: the feed is the matrix).
    matrix : str
        The name of the ensemble's input.
    forest : fitted forest
        The pipeline's final step.
    """

    def __init__(self, features: Any, matrix: str, forest: Any) -> None:
        self.features = features
        self.matrix = matrix
        self.forest = forest
        self.is_classifier = hasattr(forest, "classes_")
        self.n_trees = len(forest.estimators_)

    @classmethod
    def build(cls, onnx_bytes: bytes, model: Any, options: Any) -> ForestRunner | None:
        """The runner of ``model`` (its ONNX export ``onnx_bytes``), or ``None`` when it does not apply.

        It applies when the pipeline ends in a single-output random forest or extra
        trees, and the export has one tree ensemble node whose outputs are graph
        outputs (nothing computed after it). ``options`` are the session options.
        """
        forest = _forest_of(model)
        if forest is None:
            return None
        import onnx
        import onnxruntime as ort  # type: ignore[import-untyped]

        graph = onnx.load_from_string(onnx_bytes)
        trees = [n for n in graph.graph.node if n.op_type in _TREE_OPS]
        outputs = {o.name for o in graph.graph.output}
        if len(trees) != 1 or len(trees[0].input) != 1 or not set(trees[0].output) <= outputs:
            return None
        tree = trees[0]
        matrix = tree.input[0]
        if any(set(n.input) & set(tree.output) for n in graph.graph.node):
            return None
        if matrix in {i.name for i in graph.graph.input}:
            return cls(None, matrix, forest)
        graph.graph.node.remove(tree)
        del graph.graph.output[:]
        graph.graph.output.append(onnx.helper.make_tensor_value_info(matrix, onnx.TensorProto.FLOAT, None))
        session = ort.InferenceSession(graph.SerializeToString(), options, providers=["CPUExecutionProvider"])
        if session.get_outputs()[0].type != "tensor(float)":
            return None
        return cls(session, matrix, forest)

    def matrix_of(self, feed: dict[str, np.ndarray]) -> np.ndarray:
        """The float32 feature matrix of ``feed`` (C-ordered, as the trees read it)."""
        out = feed[self.matrix] if self.features is None else self.features.run([self.matrix], feed)[0]
        return np.ascontiguousarray(out, dtype=np.float32)

    def run(self, feed: dict[str, np.ndarray], parts: int, submit: Submit) -> np.ndarray:
        """Class probabilities ``(n, k)`` of a classifier, predictions ``(n,)`` of a regressor.

        The trees are cut in ``parts`` runs of consecutive trees: ``submit`` scores all
        but the first in other threads (the trees' ``apply`` releases the GIL), this
        thread the first; the parts' sums are added in order.
        """
        X = self.matrix_of(feed)
        trees = self.forest.estimators_
        parts = max(1, min(parts, self.n_trees))
        bounds = [self.n_trees * i // parts for i in range(parts + 1)]
        runs = list(itertools.pairwise(bounds))
        others = [submit(self._sum, trees[a:b], X) for a, b in runs[1:]]
        total = self._sum(trees[runs[0][0] : runs[0][1]], X)
        for future in others:
            total += future.result()
        total /= self.n_trees
        return total

    def _sum(self, trees: list[Any], X: np.ndarray) -> np.ndarray:
        """The sum of ``trees``' outputs on ``X`` (float64), in tree order."""
        if self.is_classifier:
            total = np.array(trees[0].predict_proba(X, check_input=False), dtype=np.float64)
            for tree in trees[1:]:
                total += tree.predict_proba(X, check_input=False)
            return total
        total = np.array(trees[0].predict(X, check_input=False), dtype=np.float64).reshape(-1)
        for tree in trees[1:]:
            total += tree.predict(X, check_input=False).reshape(-1)
        return total

    def parity_failure(self, feed: dict[str, np.ndarray], expected: np.ndarray, submit: Submit) -> str | None:
        """Why this runner's answers on ``feed`` differ from scikit-learn's ``expected``, or ``None``.

        The export's own rule: each value within ``atol + rtol * scale``, ``scale`` the
        largest ``|expected|`` of its column (at least 1).
        """
        got = self.run(feed, 2, submit).reshape(len(expected), -1)
        want = np.asarray(expected, dtype=np.float64).reshape(len(expected), -1)
        if got.shape != want.shape:
            return f"the forest's output has shape {got.shape}, scikit-learn's {want.shape}"
        scale = np.maximum(np.nanmax(np.abs(want), axis=0), 1.0)
        diff = np.abs(got - want)
        if not (diff <= _ATOL + _RTOL * scale).all():
            return f"max |Δ| = {float(diff.max()):.3g} (atol {_ATOL:g}, rtol {_RTOL:g})"
        return None
