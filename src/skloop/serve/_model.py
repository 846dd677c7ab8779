"""The served model: a registry version, its compiled signature and its fastest runner.

At the first load of a version the scikit-learn pipeline is exported to ONNX and checked
against scikit-learn on rows generated from the signature (its ranges and
categories); the export (or its refusal) is kept with the version
(:func:`skloop.registry.stored_onnx`), so later loads and hot swaps read it back. When
the export is refused (a step without an exact converter, or a parity failure) the
server runs the scikit-learn pipeline itself.
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from skloop.core import ExportError, MissingExtraError
from skloop.data import as_category, class_names
from skloop.registry import Registry, Signature, Trust, onnx_input_columns, stored_onnx
from skloop.serve._forest import FOREST_ROWS, ForestRunner
from skloop.serve._validate import CompiledSignature, Prepared, to_frame
from skloop.store import ModelVersion

logger = logging.getLogger(__name__)

__all__ = ["ServedModel", "load_served_model", "parity_sample"]

PARITY_ROWS = 256
"""Rows generated from the signature for the ONNX parity check."""

PART_ROWS = 512
"""An ONNX call of at least twice this many rows is cut in parts scored on several cores at once.

ONNX Runtime runs each session call on one thread (``intra_op_num_threads=1``, which
suits many small requests); a large request's rows are independent, so its parts run
in parallel calls of the same session (thread-safe, the GIL released), one a core, and
its answer comes about as many times sooner for about the same CPU. Intra-op threads
would do the same for every call, single rows too, with their spinning and hand-offs.
"""


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _parts_pool() -> ThreadPoolExecutor:
    """The threads that score the other parts of a large call (one fewer than the cores)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=max(_cores() - 1, 1), thread_name_prefix="skloop-onnx")
        return _pool


@dataclass
class ServedModel:
    """One loaded model version, ready to score :class:`Prepared` rows.

    Attributes
    ----------
    name, version : str, int
    ref : str
        ``name/version``.
    signature : Signature
    compiled : CompiledSignature
    model : estimator
        The scikit-learn pipeline.
    session : onnxruntime.InferenceSession or None
        The ONNX path, when the export passed its parity check.
    onnx_refusal : str or None
        Why the ONNX path is not used.
    forest : ForestRunner or None
        Scores ONNX batches of at least :data:`~skloop.serve._forest.FOREST_ROWS` rows
        (a pipeline ending in a forest whose runner passed its parity check).
    """

    name: str
    version: int
    signature: Signature
    compiled: CompiledSignature
    model: Any
    session: Any = None
    onnx_refusal: str | None = None
    forest: ForestRunner | None = None

    def __post_init__(self) -> None:
        self.ref = f"{self.name}/{self.version}"
        classes = self.signature.output.classes
        self.classes = None
        if classes is not None:
            arr = np.asarray(classes)
            # numbers and booleans keep their dtype; names stay Python strings (object),
            # not numpy's fixed-width ones, which no JSON encoder writes
            self.classes = arr if arr.dtype.kind in "biuf" else np.asarray(classes, dtype=object)
        self.class_names = None if classes is None else tuple(str(n) for n in class_names(classes))
        self.is_classifier = self.signature.output.task == "classification" and self.classes is not None
        if self.session is not None:
            self._inputs = onnx_input_columns(self.session)
            outputs = [o.name for o in self.session.get_outputs()]
            self._output = "probabilities" if self.is_classifier and "probabilities" in outputs else outputs[0]

    @property
    def runtime(self) -> str:
        """``onnxruntime`` or ``sklearn``: what scores the rows."""
        return "onnxruntime" if self.session is not None else "sklearn"

    def predict(self, rows: Prepared) -> tuple[np.ndarray, np.ndarray | None]:
        """Predictions (and class probabilities for a classifier) of ``rows``.

        Thread-safe: onnxruntime sessions and fitted scikit-learn pipelines may be
        called from several threads.
        """
        if self.session is not None:
            feed = self._feed(rows)
            if self.forest is not None and rows.n >= FOREST_ROWS:
                out = self.forest.run(feed, _cores(), _parts_pool().submit)
            else:
                out = self._run(feed, rows.n)
            if self.is_classifier:
                proba = np.asarray(out, dtype=np.float64)
                return self.classes[proba.argmax(axis=1)], proba  # type: ignore[index]
            return np.asarray(out, dtype=np.float64).reshape(rows.n), None
        frame = to_frame(rows, self.signature)
        if self.is_classifier and hasattr(self.model, "predict_proba"):
            proba = np.asarray(self.model.predict_proba(frame), dtype=np.float64)
            return self.classes[proba.argmax(axis=1)], proba  # type: ignore[index]
        return np.asarray(self.model.predict(frame)), None

    def _run(self, feed: dict[str, np.ndarray], n: int) -> np.ndarray:
        """The session's output for ``feed``: in one call, or in parts on several cores (see :data:`PART_ROWS`)."""
        parts = min(_cores(), n // PART_ROWS)
        if parts < 2:
            return np.asarray(self.session.run([self._output], feed)[0])
        bounds = [n * i // parts for i in range(parts + 1)]
        cut = [{k: v[a:b] for k, v in feed.items()} for a, b in itertools.pairwise(bounds)]
        others = [_parts_pool().submit(self.session.run, [self._output], part) for part in cut[1:]]
        first = self.session.run([self._output], cut[0])[0]  # this thread scores a part too
        return np.concatenate([np.asarray(first), *(np.asarray(f.result()[0]) for f in others)])

    def _feed(self, rows: Prepared) -> dict[str, np.ndarray]:
        feed = {}
        for name, column, kind in self._inputs:
            values = rows.columns[column]
            if kind == "tensor(string)":
                feed[name] = np.array(["" if v is None else as_category(v) for v in values], dtype=object).reshape(
                    -1, 1
                )
            elif kind == "tensor(double)":
                feed[name] = values.reshape(-1, 1)
            else:
                feed[name] = values.astype(np.float32).reshape(-1, 1)
        return feed


def parity_sample(signature: Signature, n: int = PARITY_ROWS, seed: int = 0) -> pd.DataFrame:
    """Rows spread over the signature's ranges and categories (with some missing values).

    Used to check an ONNX export against scikit-learn without the training data.
    """
    rng = np.random.default_rng(seed)
    data: dict[str, Any] = {}
    for col in signature.inputs:
        if col.categories:
            values: list[Any] = [col.categories[i] for i in rng.integers(0, len(col.categories), n)]
        elif col.dtype in ("int64", "float64"):
            lo = float(col.min) if col.min is not None else 0.0
            hi = float(col.max) if col.max is not None else lo + 100.0
            draws = rng.uniform(lo, hi, n)
            values = list(np.round(draws).astype(int)) if col.dtype == "int64" else list(draws)
        elif col.dtype == "bool":
            values = list(rng.integers(0, 2, n).astype(bool))
        elif col.dtype == "datetime64":
            lo_ts = pd.Timestamp(col.min if col.min is not None else "2020-01-01")
            hi_ts = pd.Timestamp(col.max if col.max is not None else "2025-01-01")
            span = max((hi_ts - lo_ts).total_seconds(), 1.0)
            values = [lo_ts + pd.Timedelta(seconds=float(s)) for s in rng.uniform(0, span, n)]
        else:
            values = [f"v{i}" for i in rng.integers(0, 50, n)]
        if col.missing_ok:  # missing values the server accepts are checked too
            values = [None if m else v for v, m in zip(values, rng.random(n) < 0.05, strict=True)]
        data[col.name] = values
    compiled = CompiledSignature(signature)
    return to_frame(compiled.from_table(data), signature)


def _onnx_session(
    registry: Registry, version: ModelVersion, model: Any, signature: Signature, threads: int
) -> tuple[Any, bytes, Any]:
    """The version's ONNX Runtime session, its ONNX bytes and the session options."""
    ort = __import__("onnxruntime")
    # exported and parity-checked once per version, then read back: loads and hot swaps stay fast
    data = stored_onnx(registry.store, version, model, lambda: parity_sample(signature), signature=signature.to_dict())
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(data, options, providers=["CPUExecutionProvider"]), data, options


def _forest_runner(served: ServedModel, data: bytes, options: Any) -> ForestRunner | None:
    """The big-batch runner of ``served`` when its pipeline ends in a forest and it passes the parity check."""
    try:
        runner = ForestRunner.build(data, served.model, options)
        if runner is None:
            return None
        frame = parity_sample(served.signature)
        feed = served._feed(served.compiled.from_table(frame))
        columns = [str(c) for c in served.model.feature_names_in_]
        predict = served.model.predict_proba if runner.is_classifier else served.model.predict
        failure = runner.parity_failure(feed, predict(frame[columns]), _parts_pool().submit)
    except Exception as exc:  # the whole graph still scores every batch
        logger.warning("%s: big batches stay on the ONNX graph: %s: %s", served.ref, type(exc).__name__, exc)
        return None
    if failure is not None:
        logger.warning(
            "%s: big batches stay on the ONNX graph: the forest's parity check failed: %s", served.ref, failure
        )
        return None
    return runner


def load_served_model(
    registry: Registry,
    ref: str,
    *,
    onnx: bool = True,
    onnx_threads: int = 1,
    trust: Trust | None = None,
) -> ServedModel:
    """Load ``ref`` from the registry and prepare its fastest runner.

    Parameters
    ----------
    registry : Registry
    ref : str
        ``name@alias`` or ``name/version``.
    onnx : bool, default=True
        Try the ONNX Runtime path (kept only when its parity check passes).
    onnx_threads : int, default=1
        onnxruntime intra-op threads (1 suits many small requests).
    trust : Trust, optional
        The caller's trust (``--trust``, ``--trust-type``, ``SKLOOP_TRUST``, the spec's
        ``registry.trusted_types``); default: skloop's own types, no pickle.

    Returns
    -------
    ServedModel

    Raises
    ------
    ModelNotFoundError
        No such model, version or alias.
    UntrustedModelError
        The artifact needs more trust than ``trust`` gives (a joblib file without
        ``trust.pickle``, a skops type outside the allow-list).
    RegistryError
        The version has no signature (the server validates against it), or cannot be loaded.
    """
    from skloop.core import RegistryError

    version = registry.resolve(ref)
    if not version.signature:
        raise RegistryError(
            f"{version.ref} has no signature; the server validates requests against it. "
            "Register the model from 'skloop train' (which records one) or pass signature= to Registry.register"
        )
    signature = Signature.from_dict(version.signature)
    model = registry.load_model(version.ref, trust=trust)
    id_column = _id_column(registry, version.run_id)
    session: Any = None
    data, options = b"", None
    refusal: str | None = "disabled (--no-onnx)"
    if onnx:
        try:
            session, data, options = _onnx_session(registry, version, model, signature, onnx_threads)
            refusal = None
        except (ExportError, MissingExtraError) as exc:
            refusal = str(exc)
            logger.warning("serving %s with scikit-learn: ONNX export refused: %s", version.ref, exc)
        except Exception as exc:  # a converter bug must not stop the server: scikit-learn still works
            refusal = f"{type(exc).__name__}: {exc}"
            logger.warning("serving %s with scikit-learn: ONNX export failed: %s", version.ref, refusal)
    served = ServedModel(
        name=version.name,
        version=version.version,
        signature=signature,
        compiled=CompiledSignature(signature, id_column),
        model=model,
        session=session,
        onnx_refusal=refusal,
    )
    if session is not None:
        served.forest = _forest_runner(served, data, options)
    return served


def _id_column(registry: Registry, run_id: str) -> str | None:
    """The training spec's ``data.id`` column: logged with each row so labels join by id."""
    try:
        spec = registry.store.runs.get_run(run_id).spec or {}
    except Exception as exc:  # lineage is a bonus here; serving must not depend on it
        logger.warning("cannot read the training spec of run %s: %s", run_id, exc)
        return None
    column = (spec.get("data") or {}).get("id")
    return str(column) if column else None
