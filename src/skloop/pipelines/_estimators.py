"""Estimators named by dotted path in the spec.

Every failure becomes a :class:`~skloop.core.PipelineError` that names the spec key, what
was given, why it failed and, where possible, what was probably meant.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import pkgutil
from collections.abc import Iterable
from typing import Any

from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import InvalidParameterError

from skloop.core import EstimatorSpec, PipelineError, module_hint

__all__ = ["build_estimator", "import_object", "is_estimator"]


def _suggest(name: str, candidates: Iterable[str], prefix: str = "") -> str:
    candidates = sorted(set(candidates))
    matches = difflib.get_close_matches(name, candidates, n=3, cutoff=0.6)
    if not matches:
        lowered = {c.lower(): c for c in candidates}
        matches = [lowered[m] for m in difflib.get_close_matches(name.lower(), lowered, n=3)]
    return f"; did you mean {' or '.join(repr(prefix + m) for m in matches)}?" if matches else ""


def _import_module(module_name: str, key: str, dotted: str) -> Any:
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = exc.name or module_name
        if missing != module_name and not module_name.startswith(missing + "."):
            raise PipelineError(
                f"{key}: importing module {module_name!r} for {dotted!r} failed because it "
                f"needs {missing!r}, which is not installed"
            ) from exc
        parent, _, leaf = missing.rpartition(".")
        hint = ""
        if parent:
            try:
                package = importlib.import_module(parent)
                names = [m.name for m in pkgutil.iter_modules(getattr(package, "__path__", []))]
                hint = _suggest(leaf, [n for n in names if not n.startswith("_")], parent + ".")
            except ImportError:
                hint = ""
        raise PipelineError(
            f"{key}: cannot import {dotted!r}: module {missing!r} not found{hint}"
            + ("" if hint else module_hint(missing))
        ) from exc
    except ImportError as exc:
        raise PipelineError(f"{key}: cannot import {dotted!r}: importing {module_name!r} failed: {exc}") from exc


def import_object(dotted: str, key: str) -> Any:
    """Import an object named ``package.module.Name`` or ``package.module:name``.

    Parameters
    ----------
    dotted : str
        The path: a module path and an attribute, separated by the last ``.`` or by ``:``.
    key : str
        The spec key the path came from, used in error messages
        (e.g. ``pipeline.model.class``).

    Returns
    -------
    object
        The imported attribute.

    Raises
    ------
    PipelineError
        The module cannot be imported or has no such attribute; the message names
        ``key``, ``dotted``, the reason and close matches.

    Examples
    --------
    >>> import_object("sklearn.linear_model.Ridge", "pipeline.model.class").__name__
    'Ridge'
    >>> import_object("sklearn.linear_model.Rigde", "pipeline.model.class")
    Traceback (most recent call last):
    ...
    skloop.core._errors.PipelineError: pipeline.model.class: ... did you mean 'Ridge'...
    """
    module_name, sep, attribute = dotted.partition(":") if ":" in dotted else dotted.rpartition(".")
    if not module_name or not attribute:
        raise PipelineError(
            f"{key}: {dotted!r} is not a dotted path; expected 'package.module.Name'"
            + (" or 'package.module:function'" if sep == ":" else "")
        )
    module = _import_module(module_name, key, dotted)
    target: Any = module
    for part in attribute.split("."):
        if not hasattr(target, part):
            public = getattr(target, "__all__", None) or [n for n in dir(target) if not n.startswith("_")]
            raise PipelineError(
                f"{key}: cannot import {dotted!r}: module {module_name!r} has no attribute "
                f"{part!r}{_suggest(part, public)}"
            )
        target = getattr(target, part)
    return target


def is_estimator(obj: Any) -> bool:
    """Whether ``obj`` is an estimator instance (``fit`` and ``get_params``).

    Examples
    --------
    >>> from sklearn.linear_model import Ridge
    >>> is_estimator(Ridge()), is_estimator(Ridge)
    (True, False)
    """
    if isinstance(obj, type):
        return False
    return hasattr(obj, "fit") and callable(getattr(obj, "get_params", None))


def _param_names(cls: type) -> list[str]:
    # a third-party class named by the spec, and BaseEstimator is untyped: issubclass does
    # not narrow, and mypy refuses __init__ of a type known only at run time
    estimator: Any = cls
    if issubclass(cls, BaseEstimator):
        return list(estimator._get_param_names())
    signature = inspect.signature(estimator.__init__)
    return [
        p.name
        for p in signature.parameters.values()
        if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]


def _build_param(value: Any, *, seed: int | None, key: str) -> Any:
    """Nested ``{class, params}`` mappings become estimators too."""
    if isinstance(value, EstimatorSpec):
        return build_estimator(value, seed=seed, key=key)
    if isinstance(value, dict) and "class" in value and set(value) <= {"class", "params"}:
        return build_estimator(EstimatorSpec.model_validate(value), seed=seed, key=key)
    if isinstance(value, list):
        return [_build_param(v, seed=seed, key=f"{key}[{i}]") for i, v in enumerate(value)]
    return value


def build_estimator(spec: EstimatorSpec, *, seed: int | None, key: str = "pipeline.model") -> Any:
    """Instantiate the estimator an :class:`~skloop.core.EstimatorSpec` names.

    ``random_state`` is set to ``seed`` when the estimator has that parameter and the
    spec does not set it. A parameter value that is itself a ``{class, params}``
    mapping is built the same way (e.g. the ``estimator`` of a meta-estimator).

    Parameters
    ----------
    spec : EstimatorSpec
        The dotted class path and the parameters.
    seed : int or None
        The run's seed.
    key : str, default="pipeline.model"
        The spec key of ``spec``, used in error messages.

    Returns
    -------
    estimator
        An unfitted estimator whose parameters have been validated.

    Raises
    ------
    PipelineError
        The class cannot be imported (``<key>.class``), is not an estimator, or a
        parameter is unknown or invalid (``<key>.params``).

    Examples
    --------
    >>> from skloop.core import EstimatorSpec
    >>> spec = EstimatorSpec.model_validate(
    ...     {"class": "sklearn.ensemble.RandomForestClassifier", "params": {"n_estimators": 10}}
    ... )
    >>> build_estimator(spec, seed=7)
    RandomForestClassifier(n_estimators=10, random_state=7)
    """
    cls = import_object(spec.class_, f"{key}.class")
    if not isinstance(cls, type) or not (hasattr(cls, "fit") and hasattr(cls, "get_params")):
        what = type(cls).__name__ if not isinstance(cls, type) else "a class without fit/get_params"
        raise PipelineError(
            f"{key}.class: {spec.class_!r} is not a scikit-learn estimator class (got {what}); "
            "expected a class with fit() and get_params(), "
            "e.g. sklearn.ensemble.RandomForestClassifier"
        )
    valid = _param_names(cls)
    for name in spec.params:
        if name not in valid:
            raise PipelineError(
                f"{key}.params: {cls.__name__} has no parameter {name!r}{_suggest(name, valid)} "
                f"(valid parameters: {', '.join(valid)})"
            )
    params = {name: _build_param(value, seed=seed, key=f"{key}.params.{name}") for name, value in spec.params.items()}
    if "random_state" in valid and "random_state" not in params and seed is not None:
        params["random_state"] = seed
    try:
        estimator = cls(**params)
        # only estimators that declare constraints can be checked before fit
        if hasattr(estimator, "_validate_params") and hasattr(estimator, "_parameter_constraints"):
            estimator._validate_params()
    except (InvalidParameterError, TypeError, ValueError) as exc:
        raise PipelineError(f"{key}.params: invalid parameters for {cls.__name__}: {exc}") from exc
    return estimator
