"""Export a fitted pipeline to ONNX, with a parity check against scikit-learn.

The graph has one input per column (see :mod:`skloop.registry._onnx_converters` for the
conventions: numbers ``float64`` or ``float32``, categories and booleans strings with
``""`` for missing, datetimes ``float64`` Unix seconds; the kind of each input is stored
in the model's metadata as ``skloop.inputs``). After conversion the ONNX model is run
with onnxruntime on a sample and compared with the scikit-learn model, value by value,
``|onnx - sklearn| <= atol + rtol * scale`` (``scale``: the largest ``|sklearn|`` of
that output over the sample, at least 1); the file is written only when every value
passes.

skl2onnx, onnx and onnxruntime are the ``onnx`` extra, imported when a function runs.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.base import is_classifier

from skloop.core import DataError, ExportError, optional_import
from skloop.data import as_category

logger = logging.getLogger(__name__)

__all__ = ["ONNX_OPSET", "OnnxReport", "export_onnx", "onnx_predict_proba"]

ONNX_OPSET = 21
"""The default ONNX opset (``ai.onnx.ml`` opset 3); skloop's converters need at least 19."""

_ML_OPSET = 3
_EPOCH = pd.Timestamp(0, tz="UTC")
_TEXT_STEPS = ("TfidfVectorizer", "CountVectorizer", "HashingVectorizer", "TfidfTransformer")


@dataclass(frozen=True)
class OnnxReport:
    """What :func:`export_onnx` wrote and how closely it matches scikit-learn.

    Attributes
    ----------
    path : Path
        The ``.onnx`` file.
    max_abs_diff : float
        Largest absolute difference over the sample: of class probabilities for a
        classifier, of predictions for a regressor.
    max_rel_diff : float
        Largest ``|Δ| / scale``, where ``scale`` is the largest ``|sklearn|`` of the
        output over the sample (at least 1).
    n_rows : int
        Rows of the sample the parity check ran on.
    inputs : dict of str to str
        ONNX input per column and how it is fed: ``float32`` or ``float64`` numbers,
        ``string`` (categories, booleans), ``datetime`` (float64 Unix seconds).
    output : str
        ``"probabilities"`` or ``"predictions"``: what was compared.
    atol, rtol : float
        The absolute and relative tolerances each value was checked against.
    """

    path: Path
    max_abs_diff: float
    n_rows: int
    inputs: dict[str, str] = field(default_factory=dict)
    output: str = "probabilities"
    max_rel_diff: float = 0.0
    atol: float = 1e-5
    rtol: float = 1e-5


@dataclass(frozen=True)
class _Parity:
    max_abs: float
    max_rel: float
    failure: str | None


def _parity(
    got: npt.NDArray[np.float64],
    expected: npt.NDArray[np.float64],
    columns: list[str],
    index: pd.Index,
    atol: float,
    rtol: float,
) -> _Parity:
    """Compare ONNX and scikit-learn outputs value by value, naming the worst row and output if they differ.

    A value passes when ``|Δ| <= atol + rtol * scale``, where ``scale`` is the largest
    ``|sklearn|`` of its output over the sample (at least 1): a float32 graph errs in
    proportion to the magnitude of the model's terms, not of each prediction.
    """
    nan_mismatch = np.isnan(got) != np.isnan(expected)
    diff = np.where(np.isnan(got) & np.isnan(expected), 0.0, np.abs(got - expected))
    diff = np.where(nan_mismatch, np.inf, diff)
    scale = np.maximum(1.0, np.max(np.abs(np.nan_to_num(expected)), axis=0, initial=0.0))
    rel = diff / scale
    finite = np.isfinite(diff)
    max_abs = float(np.max(diff, initial=0.0, where=finite))
    max_rel = float(np.max(rel, initial=0.0, where=finite))
    allowed = atol + rtol * scale
    bad = diff > allowed
    if not bad.any():
        return _Parity(max_abs, max_rel, None)
    excess = np.where(bad, diff - allowed, -np.inf)
    row, col = np.unravel_index(int(np.argmax(excess)), excess.shape)
    where = f"row {index[int(row)]!r}, {columns[col]}: sklearn {expected[row, col]:.6g}, ONNX {got[row, col]:.6g}"
    if nan_mismatch[row, col]:
        worst = f"{where} (missing in one only)"
    else:
        worst = (
            f"{where}, |Δ| = {diff[row, col]:.3g} (atol {atol:g}), "
            f"|Δ| / {scale[col]:.3g} = {rel[row, col]:.3g} (rtol {rtol:g})"
        )
    failure = (
        f"{int(bad.any(axis=1).sum())} of {len(index)} rows differ by more than atol + rtol * scale "
        f"(scale: the output's largest |value| in the sample, at least 1); worst {worst}; "
        f"over the sample max |Δ| = {max_abs:.3g}, max |Δ| / scale = {max_rel:.3g}"
    )
    return _Parity(max_abs, max_rel, failure)


# -- which column is which input -----------------------------------------------------


def _leaves(est: Any, path: str) -> Iterator[tuple[str, Any, str]]:
    """``(path, leaf estimator, group path)`` for every step of a nested pipeline."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import FeatureUnion, Pipeline

    if isinstance(est, Pipeline):
        for name, step in est.steps:
            yield from _leaves(step, f"{path}/{name}" if path else name)
    elif isinstance(est, ColumnTransformer):
        for name, trans, _ in getattr(est, "transformers_", est.transformers):
            yield from _leaves(trans, f"{path}/{name}" if path else name)
    elif isinstance(est, FeatureUnion):
        for name, trans in est.transformer_list:
            yield from _leaves(trans, f"{path}/{name}" if path else name)
    elif est is not None and not isinstance(est, str):
        yield path, est, path.rsplit("/", 1)[0]


def _first_leaf(est: Any) -> Any:
    for _, leaf, _ in _leaves(est, ""):
        return leaf
    return est  # "passthrough"


def _column_names(columns: Any, all_columns: list[str]) -> list[str]:
    if isinstance(columns, str):
        return [columns]
    if isinstance(columns, slice):
        return all_columns[columns]
    values = list(np.asarray(columns).ravel())
    if values and isinstance(values[0], (bool, np.bool_)):
        return [c for c, keep in zip(all_columns, values, strict=True) if keep]
    return [all_columns[int(v)] if not isinstance(v, str) else v for v in values]


def _input_kinds(model: Any) -> dict[str, str]:
    """ONNX element type per input column, from the steps that first see the column."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    from skloop.pipelines import BooleanEncoder, DatetimeFeatures, MissingCategoryFiller, RareCategoryGrouper

    names = getattr(model, "feature_names_in_", None)
    if names is None:
        raise ExportError(
            "ONNX export needs a model fitted on a DataFrame with named columns "
            "(feature_names_in_ is missing); fit it on a pandas DataFrame"
        )
    all_columns = [str(c) for c in names]
    first = model.steps[0][1] if isinstance(model, Pipeline) else model
    if not isinstance(first, ColumnTransformer):
        return dict.fromkeys(all_columns, "float32")
    kinds: dict[str, str] = {}
    string_steps = (MissingCategoryFiller, RareCategoryGrouper)
    for _, trans, columns in first.transformers_:
        if isinstance(trans, str) and trans == "drop":
            continue
        leaf = _first_leaf(trans)
        if isinstance(leaf, DatetimeFeatures):
            kind = "datetime"
        elif _scaled_numbers(trans):
            kind = "float64"
        elif isinstance(leaf, (*string_steps, BooleanEncoder)) or type(leaf).__name__ in (
            "OneHotEncoder",
            "OrdinalEncoder",
            *_TEXT_STEPS,
        ):
            kind = "string"
        else:
            kind = "float32"
        for column in _column_names(columns, all_columns):
            kinds[column] = kind
    return {c: kinds[c] for c in all_columns if c in kinds}


def _scaled_numbers(trans: Any) -> bool:
    """Whether a column group is (imputation then) standard scaling, like ``auto``'s numeric one.

    Such columns are fed as float64 and scaled in float64, as scikit-learn does: fed
    as float32, a value like 74.3 moves by an ulp after scaling and can fall on the
    other side of a tree split that sits on a training value.
    """
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    if not isinstance(trans, Pipeline) or not isinstance(trans.steps[-1][1], StandardScaler):
        return False
    return all(isinstance(step, SimpleImputer | StandardScaler) for _, step in trans.steps)


def _check_convertible(model: Any) -> None:
    """Refuse, naming the step, when a step has no converter (or a known bad one)."""
    optional_import("skl2onnx", "onnx")
    from skl2onnx._supported_operators import sklearn_operator_name_map

    from skloop.registry._onnx_converters import register_converters

    register_converters()

    for path, leaf, group in _leaves(model, ""):
        kind = type(leaf).__name__
        if kind in _TEXT_STEPS or (kind == "FunctionTransformer" and leaf.func is not None):
            columns = _group_columns(model, group)
            raise ExportError(
                f"cannot export to ONNX: step {group!r} ({kind} on {columns}) has no exact ONNX "
                "equivalent (skl2onnx's tokenizer and Python functions do not convert faithfully); "
                "drop the text columns from the features, or export with --format mlflow"
            )
        if type(leaf) not in sklearn_operator_name_map:
            raise ExportError(
                f"cannot export to ONNX: step {path!r} ({type(leaf).__module__}.{kind}) has no "
                "skl2onnx converter; replace the step with a convertible one, register a converter "
                "with skl2onnx.update_registered_converter, or export with --format mlflow"
            )


def _group_columns(model: Any, group: str) -> str:
    from sklearn.compose import ColumnTransformer

    first = getattr(model, "steps", [(None, model)])[0][1]
    if isinstance(first, ColumnTransformer):
        for name, _, columns in first.transformers_:
            if group.endswith(f"/{name}") or group == name:
                return ", ".join(_column_names(columns, [str(c) for c in model.feature_names_in_]))
    return "text"


# -- feeding a frame to the graph --------------------------------------------------------


def _datetime_seconds(values: pd.Series) -> npt.NDArray[np.floating[Any]]:
    from skloop.pipelines._transformers import _to_datetime

    # The same parsing as DatetimeFeatures: numbers are Unix seconds, strings ISO 8601.
    stamps = pd.Series(_to_datetime(values.to_numpy(dtype=object), "ISO8601"))
    seconds = (stamps - _EPOCH).dt.total_seconds()
    return seconds.to_numpy(dtype=np.float64, na_value=np.nan)


def _feed_column(values: pd.Series, kind: str) -> npt.NDArray[Any]:  # str objects, float64 or float32
    if kind == "string":
        cells = values.to_numpy(dtype=object)
        missing = pd.isna(cells)
        out = np.array([as_category(v) if not m else "" for v, m in zip(cells, missing, strict=True)], dtype=object)
    elif kind == "datetime":
        out = _datetime_seconds(values)
    else:
        numeric = values.astype("float64") if values.dtype == bool else pd.to_numeric(values, errors="raise")
        out = numeric.to_numpy(dtype=np.float64 if kind == "float64" else np.float32, na_value=np.nan)
    return out.reshape(-1, 1)


_KIND_OF_TYPE = {"tensor(string)": "string", "tensor(double)": "datetime", "tensor(float)": "float32"}


def onnx_input_columns(session: Any) -> list[tuple[str, str, str]]:
    """``(input name, column, ONNX type)`` of each input of an exported model.

    skl2onnx renames columns that are not valid ONNX names (``od280/od315`` becomes
    ``od280_od315``); the export records which column each input came from
    (``skloop.columns``), so feeds are built from the data's own column names. Files
    exported before that record fall back to the input's name.
    """
    columns = json.loads(session.get_modelmeta().custom_metadata_map.get("skloop.columns", "{}"))
    return [(i.name, str(columns.get(i.name, i.name)), i.type) for i in session.get_inputs()]


def _feed(session: Any, frame: pd.DataFrame) -> dict[str, npt.NDArray[Any]]:
    declared = json.loads(session.get_modelmeta().custom_metadata_map.get("skloop.inputs", "{}"))
    inputs = onnx_input_columns(session)
    feed = {}
    for name, column, onnx_type in inputs:
        if column not in frame.columns:
            raise DataError(
                f"column {column!r} is missing from the data; the ONNX model needs {[c for _, c, _ in inputs]}"
            )
        try:
            kind = declared.get(column) or _KIND_OF_TYPE.get(onnx_type, "float32")
            feed[name] = _feed_column(frame[column], kind)
        except (TypeError, ValueError) as exc:
            raise DataError(f"column {column!r} cannot be given to the ONNX model as {onnx_type}: {exc}") from exc
    return feed


def _session(model: str | os.PathLike[str] | bytes | Any) -> Any:
    if hasattr(model, "get_inputs"):
        return model
    ort = optional_import("onnxruntime", "onnx")
    source = model if isinstance(model, bytes) else str(model)
    return ort.InferenceSession(source, providers=["CPUExecutionProvider"])


def _run(session: Any, frame: pd.DataFrame) -> dict[str, npt.NDArray[Any]]:
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(None, _feed(session, frame)), strict=True))


def onnx_predict_proba(model: str | os.PathLike[str] | bytes | Any, frame: pd.DataFrame) -> np.ndarray:
    """Class probabilities of an ONNX classifier exported by :func:`export_onnx`.

    Parameters
    ----------
    model : path, bytes or onnxruntime.InferenceSession
        The exported model.
    frame : pandas.DataFrame
        Rows to score; the columns named by the model's inputs are used, converted
        as the export expects (missing categories become ``""``, datetimes Unix seconds).

    Returns
    -------
    ndarray of shape (n_rows, n_classes)
        Probabilities, float32, in the order of the scikit-learn model's ``classes_``.

    Raises
    ------
    DataError
        A column is missing or cannot be converted.
    ExportError
        The model has no probability output (a regressor).
    MissingExtraError
        onnxruntime is not installed (``pip install 'skloop[onnx]'``).
    """
    outputs = _run(_session(model), frame)
    if "probabilities" not in outputs:
        raise ExportError(
            f"the ONNX model has no 'probabilities' output (outputs: {list(outputs)}); is it a classifier?"
        )
    return np.asarray(outputs["probabilities"])


# -- export -------------------------------------------------------------------------------


def _initial_types(kinds: Mapping[str, str]) -> list[tuple[str, Any]]:
    types = optional_import("skl2onnx.common.data_types", "onnx")
    make = {
        "float32": types.FloatTensorType,
        "float64": types.DoubleTensorType,
        "datetime": types.DoubleTensorType,
        "string": types.StringTensorType,
    }
    return [(name, make[kind]([None, 1])) for name, kind in kinds.items()]


def _convert(model: Any, kinds: Mapping[str, str], opset: int) -> Any:
    skl2onnx = optional_import("skl2onnx", "onnx")
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import StandardScaler

    from skloop.registry._onnx_converters import (
        convert_simple_imputer,
        convert_standard_scaler,
        parse_standard_scaler,
        register_converters,
    )

    register_converters()
    final = model.steps[-1][1] if hasattr(model, "steps") else model
    options = {id(final): {"zipmap": False}} if is_classifier(final) else None
    try:
        return skl2onnx.convert_sklearn(
            model,
            initial_types=_initial_types(kinds),
            options=options,
            target_opset={"": opset, "ai.onnx.ml": _ML_OPSET},
            custom_conversion_functions={
                StandardScaler: convert_standard_scaler,
                SimpleImputer: convert_simple_imputer,
            },
            custom_parsers={StandardScaler: parse_standard_scaler},
        )
    except Exception as exc:  # skl2onnx raises RuntimeError, ValueError, TypeError, NotImplementedError...
        raise ExportError(
            f"skl2onnx could not convert the pipeline: {type(exc).__name__}: {exc}; export with --format mlflow instead"
        ) from exc


def export_onnx(
    model: Any,
    out_path: str | os.PathLike[str],
    *,
    sample: pd.DataFrame,
    signature: Mapping[str, Any] | None = None,
    atol: float = 1e-5,
    rtol: float = 1e-5,
    opset: int = ONNX_OPSET,
) -> OnnxReport:
    """Convert a fitted pipeline to ONNX and write it if it matches scikit-learn.

    Parameters
    ----------
    model : estimator
        A fitted scikit-learn estimator or pipeline, fitted on a DataFrame.
    out_path : str or os.PathLike
        The ``.onnx`` file to write (parent folders are created).
    sample : pandas.DataFrame
        Rows for the parity check (extra columns, such as the target, are ignored).
    signature : mapping, optional
        skloop's signature dict; stored in the ONNX metadata (``skloop.signature``).
    atol, rtol : float, default=1e-5
        Each ONNX value (class probability for a classifier, prediction for a
        regressor) must satisfy ``|onnx - sklearn| <= atol + rtol * scale``, where
        ``scale`` is the largest ``|sklearn|`` of that output over the sample (at
        least 1): a float32 graph errs in proportion to the size of the model's terms.
    opset : int, default=ONNX_OPSET
        The ONNX opset (at least 19).

    Returns
    -------
    OnnxReport
        The path, the largest absolute and relative differences, the sample size and the inputs.

    Raises
    ------
    ExportError
        A step has no converter (the message names it), the conversion fails, or the
        parity check fails; nothing is written then.
    MissingExtraError
        The ``onnx`` extra is not installed (``pip install 'skloop[onnx]'``).

    Examples
    --------
    >>> report = export_onnx(pipe, "model.onnx", sample=df.head(500))  # doctest: +SKIP
    >>> report.max_abs_diff < 1e-5  # doctest: +SKIP
    True
    """
    if len(sample) == 0:
        raise ExportError("the parity sample is empty; pass some rows of the training data as sample")
    _check_convertible(model)
    kinds = _input_kinds(model)
    onx = _convert(model, kinds, opset)
    _annotate(onx, kinds, signature)
    data = onx.SerializeToString()
    try:
        outputs = _run(_session(data), sample)
    except DataError:
        raise
    except Exception as exc:
        raise ExportError(f"onnxruntime cannot run the converted model: {type(exc).__name__}: {exc}") from exc
    features = sample[[str(c) for c in model.feature_names_in_]]
    if is_classifier(model):
        expected = np.asarray(model.predict_proba(features), dtype=np.float64)
        got = np.asarray(outputs["probabilities"], dtype=np.float64)
        output, columns = "probabilities", [f"probability of class {c!r}" for c in np.asarray(model.classes_).tolist()]
    else:
        expected = np.asarray(model.predict(features), dtype=np.float64).reshape(len(sample), -1)
        got = np.asarray(next(iter(outputs.values())), dtype=np.float64).reshape(len(sample), -1)
        output = "predictions"
        columns = ["prediction"] if expected.shape[1] == 1 else [f"prediction {j}" for j in range(expected.shape[1])]
    parity = _parity(got, expected, columns, sample.index, atol, rtol)
    if parity.failure is not None:
        raise ExportError(
            f"ONNX parity check failed: {parity.failure}; the file was not written. A step may convert "
            "inexactly: export with --format mlflow, or raise --atol/--rtol if the difference is acceptable"
        )
    max_diff, max_rel = parity.max_abs, parity.max_rel
    path = Path(out_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    logger.info("wrote %s (max |Δ %s| %.3g, relative %.3g, over %d rows)", path, output, max_diff, max_rel, len(sample))
    return OnnxReport(
        path=path,
        max_abs_diff=max_diff,
        n_rows=len(sample),
        inputs=dict(kinds),
        output=output,
        max_rel_diff=max_rel,
        atol=atol,
        rtol=rtol,
    )


def _annotate(onx: Any, kinds: Mapping[str, str], signature: Mapping[str, Any] | None) -> None:
    graph_inputs = [i.name for i in onx.graph.input]
    if len(graph_inputs) != len(kinds):
        raise ExportError(f"the ONNX graph has {len(graph_inputs)} inputs for {len(kinds)} columns: {graph_inputs}")
    props = {
        "skloop.inputs": json.dumps(dict(kinds)),
        # skl2onnx renames columns that are not valid ONNX names, keeping their order
        "skloop.columns": json.dumps(dict(zip(graph_inputs, kinds, strict=True))),
        "skloop.missing": "string inputs: empty string; numeric and datetime inputs: NaN",
        "skloop.datetime": "inputs of kind datetime are float64 Unix seconds (UTC)",
    }
    if signature is not None:
        props["skloop.signature"] = json.dumps(signature, default=str)
    for key, value in props.items():
        entry = onx.metadata_props.add()
        entry.key, entry.value = key, value
    onx.doc_string = "Exported by skloop; feed with skloop.registry.onnx_predict_proba or the same conventions."
