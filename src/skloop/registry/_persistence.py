"""Saving and loading fitted models: skops by default, joblib only when trusted.

A skops artifact is a zip of a JSON schema and array files; loading it rebuilds the
objects node by node and never unpickles, but it does import and instantiate the
classes the schema names. So before anything is loaded, every type the artifact names
outside skops' own safe set is listed (:func:`skops.io.get_untrusted_types`, which
imports nothing) and compared with the allow-list *of the loader*: skloop's own
:data:`TRUSTED_TYPES` plus the caller's ``trust.types``. Nothing the artifact says
about itself widens that list. A joblib (pickle) artifact runs arbitrary code when
loaded, so it is refused unless the caller says it trusts the source. Both decisions
are the caller's :class:`~skloop.registry.Trust`.
"""

from __future__ import annotations

import io
import logging
import warnings
import zipfile
from pathlib import PurePath
from typing import Any, Literal, TypeGuard

from skloop.core import RegistryError, UntrustedModelError, module_hint
from skloop.registry._trust import Trust

logger = logging.getLogger(__name__)

__all__ = [
    "MODEL_FORMATS",
    "TRUSTED_TYPES",
    "TrustedPickleWarning",
    "load_model",
    "model_format_from_name",
    "save_model",
    "save_pickled_model",
]

ModelFormat = Literal["skops", "joblib"]

MODEL_FORMATS: tuple[ModelFormat, ...] = ("skops", "joblib")
"""The artifact formats skloop writes and reads."""

TRUSTED_TYPES: tuple[str, ...] = (
    # Types that skops does not trust by default but that skloop's own ``auto``
    # pipelines contain. Derived by saving fitted auto pipelines (every feature kind,
    # text included) with RandomForest, ExtraTrees, GradientBoosting,
    # HistGradientBoosting, DecisionTree, LogisticRegression, SGD, SVC/SVR, KNeighbors,
    # Ridge, Lasso, ElasticNet and LinearRegression, and listing
    # ``skops.io.get_untrusted_types``. Kept explicit so that a review sees every entry.
    "numpy.dtype",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.tree._tree.Tree",
    # skloop's own transformers and helper functions
    "skloop.pipelines._build.as_documents",
    "skloop.pipelines._categorical.MissingCategoryFiller",
    "skloop.pipelines._categorical.RareCategoryGrouper",
    "skloop.pipelines._transformers.BooleanEncoder",
    "skloop.pipelines._transformers.DatetimeFeatures",
    "skloop.pipelines._transformers.QuantileClipper",
)
"""Dotted type names the skops loader trusts on top of skops' defaults."""

NO_TRUST = Trust()
"""The default: skloop's own types, no pickle."""

_SUFFIXES: dict[str, ModelFormat] = {".skops": "skops", ".joblib": "joblib", ".pkl": "joblib", ".pickle": "joblib"}


class TrustedPickleWarning(UserWarning):
    """A joblib/pickle artifact was loaded because the caller trusted its source."""


def _is_format(format: str) -> TypeGuard[ModelFormat]:
    return format in MODEL_FORMATS


def _check_format(format: str) -> ModelFormat:
    if _is_format(format):
        return format
    raise RegistryError(f"unknown model format {format!r}; expected one of {', '.join(MODEL_FORMATS)}")


def model_format_from_name(path: str | PurePath) -> ModelFormat:
    """The model format of an artifact, from its file name.

    Parameters
    ----------
    path : str or path-like
        A file name or path, e.g. ``model.skops`` or ``s3://bucket/model.joblib``.

    Returns
    -------
    {"skops", "joblib"}
        ``.skops`` is skops; ``.joblib``, ``.pkl`` and ``.pickle`` are joblib.

    Raises
    ------
    RegistryError
        The suffix is none of these.

    Examples
    --------
    >>> model_format_from_name("models/churn.skops")
    'skops'
    >>> model_format_from_name("model.PKL")
    'joblib'
    """
    suffix = PurePath(str(path)).suffix.lower()
    try:
        return _SUFFIXES[suffix]
    except KeyError:
        raise RegistryError(
            f"cannot tell the model format of {str(path)!r} from its suffix {suffix or '(none)'!r}; "
            f"expected one of {', '.join(sorted(_SUFFIXES))}"
        ) from None


def save_model(model: Any, format: str = "skops") -> bytes:
    """Serialize a fitted model to bytes.

    Parameters
    ----------
    model : estimator
        Usually a fitted scikit-learn ``Pipeline``.
    format : {"skops", "joblib"}, default="skops"
        skops loads without running code; joblib (pickle) can hold anything but runs
        code when loaded, so only use it for sources you trust.

    Returns
    -------
    bytes

    Raises
    ------
    RegistryError
        The format is unknown or the model cannot be serialized in it.
    """
    fmt = _check_format(format)
    try:
        if fmt == "skops":
            import skops.io as sio

            data: bytes = sio.dumps(model)
            return data
        import joblib

        buf = io.BytesIO()
        joblib.dump(model, buf)
        return buf.getvalue()
    except RegistryError:
        raise
    except Exception as exc:  # a third-party serializer's own error: name it, keep the cause
        raise RegistryError(
            f"cannot save {type(model).__name__} as {fmt}: {type(exc).__name__}: {exc}"
            + ("; try format='joblib' if you trust where it will be loaded" if fmt == "skops" else "")
        ) from exc


def save_pickled_model(payload: bytes, format: str = "skops") -> bytes:
    """:func:`save_model` of the model pickled in ``payload``: for a worker process handed the model.

    ``payload`` is ``pickle.dumps(model)`` made by the calling process (skloop's own
    bytes, not a file from outside). The training run writes its skops file this way in
    a search worker that is idle by then, while it scores the holdout.
    """
    import pickle

    model = pickle.loads(payload)  # made by the calling process from its own fitted model
    return save_model(model, format)


def _untrusted_message(name: str, types: list[str]) -> str:
    flags = " ".join(f"--trust-type {t}" for t in types)
    return (
        f"refusing to load {name}: it holds {len(types)} type(s) the loader does not trust "
        f"({', '.join(types)}), and loading would import and instantiate them; if you know where it comes from "
        f"and trust them, add them to registry.trusted_types in skloop.yaml or pass {flags} "
        "(in Python: Trust(types=[...]))"
    )


def _load_skops(data: bytes, trust: Trust, name: str) -> Any:
    import skops.io as sio

    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise RegistryError(f"{name} is not a skops file (not a zip archive); is it a joblib file?")
    try:
        found = sio.get_untrusted_types(data=data)
    except Exception as exc:
        raise RegistryError(f"cannot read {name} as skops: {type(exc).__name__}: {exc}") from exc
    allowed = set(TRUSTED_TYPES) | set(trust.types)
    refused = sorted(set(found) - allowed)
    if refused:
        raise UntrustedModelError(_untrusted_message(name, refused), refused)
    try:
        # Exactly the types found and allowed: skops re-checks the whole tree against
        # this list, so the artifact cannot add to it.
        return sio.loads(data, trusted=sorted(found))
    except Exception as exc:
        from skops.io.exceptions import UntrustedTypesFoundException

        if isinstance(exc, UntrustedTypesFoundException):
            # skops' own re-check found more than get_untrusted_types listed
            raise UntrustedModelError(f"refusing to load {name}: it holds untrusted types: {exc}") from exc
        hint = module_hint(exc.name) if isinstance(exc, ModuleNotFoundError) and exc.name else ""
        raise RegistryError(f"cannot load {name} as skops: {type(exc).__name__}: {exc}{hint}") from exc


def _load_joblib(data: bytes, trust: Trust, name: str) -> Any:
    if not trust.pickle:
        raise UntrustedModelError(
            f"refusing to load {name}: it is a joblib/pickle file, and unpickling runs any code it holds; "
            "if you trust where it comes from, pass --trust (or set SKLOOP_TRUST=1; in Python: Trust(pickle=True)), "
            "else save models as skops (registry.format: skops), which loads without running code",
            ["pickle"],
        )
    warnings.warn(
        "loading a joblib/pickle model artifact runs any code it contains; "
        "this was allowed because the caller trusts its source",
        TrustedPickleWarning,
        stacklevel=3,
    )
    import joblib

    try:
        return joblib.load(io.BytesIO(data))
    except Exception as exc:
        raise RegistryError(f"cannot load {name} as joblib: {type(exc).__name__}: {exc}") from exc


def load_model(
    data: bytes,
    format: str = "skops",
    *,
    trust: Trust | None = None,
    name: str = "the model artifact",
) -> Any:
    """Load a model saved by :func:`save_model`, refusing what the loader does not trust.

    Parameters
    ----------
    data : bytes
        The artifact's content.
    format : {"skops", "joblib"}, default="skops"
        The artifact's format (see :func:`model_format_from_name`).
    trust : Trust, optional
        The caller's trust (see :class:`Trust`): ``trust.pickle`` allows a joblib
        artifact (a :class:`TrustedPickleWarning` is still emitted); ``trust.types``
        are dotted type names the skops loader trusts on top of :data:`TRUSTED_TYPES`.
        The default trusts skloop's own types and no pickle. Nothing in the artifact
        widens it.
    name : str, default="the model artifact"
        What the artifact is, for messages (``"the model artifact of churn/3"``).

    Returns
    -------
    object
        The model.

    Raises
    ------
    UntrustedModelError
        A skops artifact names types outside the allow-list (``types`` lists them all),
        or a joblib artifact is loaded without ``trust.pickle``.
    RegistryError
        The format is unknown or the bytes are not a readable artifact.

    Examples
    --------
    >>> from sklearn.linear_model import LinearRegression
    >>> model = LinearRegression().fit([[0.0], [1.0]], [0.0, 2.0])
    >>> load_model(save_model(model)).coef_
    array([2.])
    """
    fmt = _check_format(format)
    trust = trust or NO_TRUST
    if fmt == "skops":
        return _load_skops(data, trust, name)
    return _load_joblib(data, trust, name)
