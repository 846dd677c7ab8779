"""skl2onnx converters for skloop's own transformers.

skl2onnx knows scikit-learn's estimators but not skloop's, so :func:`register_converters`
teaches it four of them. Conventions of the ONNX graphs skloop exports (see
:func:`skloop.registry.onnx_predict_proba`, which feeds them):

- categorical and boolean columns are string tensors, and the empty string means
  *missing* (ONNX string tensors have no ``NaN``);
- numeric columns are ``float64`` when their group is imputation + ``StandardScaler``
  (scaled in float64 like scikit-learn, then float32), ``float32`` otherwise; ``NaN``
  for missing;
- datetime columns are ``float64`` Unix seconds (UTC) with ``NaN`` for missing
  (``float32`` would round seconds to minutes).

Converters:

- :class:`~skloop.pipelines.MissingCategoryFiller`: ``"" -> fill_value`` (``Equal`` + ``Where``);
- :class:`~skloop.pipelines.RareCategoryGrouper`: per column, a ``LabelEncoder`` that maps
  the kept labels to themselves and everything else to ``other_label``;
- :class:`~skloop.pipelines.BooleanEncoder`: a ``LabelEncoder`` from the recognised tokens
  (in every upper/lower-case spelling) to ``1.0`` / ``0.0``, anything else ``NaN`` (as ``handle_unknown="missing"``);
- :class:`~skloop.pipelines.DatetimeFeatures`: calendar arithmetic on the Unix seconds
  (the days-to-civil algorithm of H. Hinnant, exact in ``float64``).

Only this module imports skl2onnx and onnx; it is imported lazily by ``_export_onnx``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from onnx import TensorProto
from skl2onnx import get_model_alias, update_registered_converter
from skl2onnx.common.data_types import FloatTensorType, StringTensorType

from skloop.pipelines import BooleanEncoder, DatetimeFeatures, MissingCategoryFiller, RareCategoryGrouper
from skloop.pipelines._transformers import _FALSE, _TRUE

__all__ = [
    "BOOLEAN_TOKENS",
    "convert_simple_imputer",
    "convert_standard_scaler",
    "parse_standard_scaler",
    "register_converters",
]

ML_DOMAIN = "ai.onnx.ml"
ML_OPSET = 2  # LabelEncoder with string keys and float or string values
MIN_OPSET = 19  # Equal on strings

BOOLEAN_TOKENS: dict[str, float] = {**dict.fromkeys(sorted(_TRUE), 1.0), **dict.fromkeys(sorted(_FALSE), 0.0)}
"""Lower-case strings the ONNX boolean encoder recognises; ``"true"``/``"false"`` included."""

_registered = False


class _Graph:
    """Small helper over skl2onnx's scope and container for one converter call."""

    def __init__(self, scope: Any, operator: Any, container: Any) -> None:
        self.scope = scope
        self.operator = operator
        self.container = container
        self.prefix = operator.full_name

    def name(self, seed: str) -> str:
        return str(self.scope.get_unique_variable_name(f"{self.prefix}_{seed}"))

    def const(self, seed: str, dtype: int, values: Any, shape: list[int] | None = None) -> str:
        name = self.name(seed)
        flat = list(np.asarray(values).ravel()) if not isinstance(values, list) else values
        self.container.add_initializer(name, dtype, shape if shape is not None else [len(flat)], flat)
        return name

    def node(self, op: str, inputs: list[str], *, domain: str = "", version: int | None = None, **attrs: Any) -> str:
        out = self.name(op.lower())
        self.container.add_node(
            op,
            inputs,
            [out],
            op_domain=domain,
            op_version=version,
            name=self.scope.get_unique_operator_name(f"{self.prefix}_{op}"),
            **attrs,
        )
        return out

    def output(
        self, op: str, inputs: list[str], op_domain: str = "", op_version: int | None = None, **attrs: Any
    ) -> None:
        self.container.add_node(
            op,
            inputs,
            [self.operator.outputs[0].full_name],
            op_domain=op_domain,
            op_version=op_version,
            name=self.scope.get_unique_operator_name(f"{self.prefix}_{op}"),
            **attrs,
        )

    def column(self, x: str, j: int, n_columns: int) -> str:
        """Column ``j`` of a 2-D tensor, still 2-D."""
        if n_columns == 1:
            return x
        start = self.const(f"start{j}", TensorProto.INT64, [j])
        end = self.const(f"end{j}", TensorProto.INT64, [j + 1])
        axis = self.const(f"axis{j}", TensorProto.INT64, [1])
        return self.node("Slice", [x, start, end, axis])


# -- shape calculators ------------------------------------------------------------


def _n_rows(operator: Any) -> Any:
    return operator.inputs[0].get_first_dimension()


def _string_shape(operator: Any) -> None:
    operator.outputs[0].type = StringTensorType([_n_rows(operator), operator.raw_operator.n_features_in_])


def _boolean_shape(operator: Any) -> None:
    operator.outputs[0].type = FloatTensorType([_n_rows(operator), operator.raw_operator.n_features_in_])


def _datetime_shape(operator: Any) -> None:
    est = operator.raw_operator
    operator.outputs[0].type = FloatTensorType([_n_rows(operator), est.n_features_in_ * len(est.features)])


# -- converters -------------------------------------------------------------------


def _convert_filler(scope: Any, operator: Any, container: Any) -> None:
    g = _Graph(scope, operator, container)
    x = operator.inputs[0].full_name
    empty = g.const("empty", TensorProto.STRING, [b""], [])
    fill = g.const("fill", TensorProto.STRING, [operator.raw_operator.fill_value.encode()], [])
    missing = g.node("Equal", [x, empty])
    g.output("Where", [missing, fill, x])


def _convert_grouper(scope: Any, operator: Any, container: Any) -> None:
    g = _Graph(scope, operator, container)
    est = operator.raw_operator
    x = operator.inputs[0].full_name
    n_columns = len(est.categories_)
    outputs = []
    for j, kept in enumerate(est.categories_):
        keys = [str(k) for k in kept]
        if "" not in keys:
            keys.append("")  # missing stays missing, as in transform()
        outputs.append(
            g.node(
                "LabelEncoder",
                [g.column(x, j, n_columns)],
                domain=ML_DOMAIN,
                version=ML_OPSET,
                keys_strings=keys,
                values_strings=keys,
                default_string=est.other_label,
            )
        )
    if n_columns == 1:
        g.output("Identity", outputs)
    else:
        g.output("Concat", outputs, axis=1)


def _case_variants(token: str) -> list[str]:
    """Every upper/lower-case spelling of ``token`` (``"no"`` -> no, nO, No, NO)."""
    variants = [""]
    for ch in token:
        variants = [v + c for v in variants for c in dict.fromkeys((ch.lower(), ch.upper()))]
    return variants


def _convert_boolean(scope: Any, operator: Any, container: Any) -> None:
    g = _Graph(scope, operator, container)
    # Case-insensitive by listing every spelling: ONNX's StringNormalizer needs an OS
    # locale (en_US.UTF-8) that slim containers do not have.
    keys = [v for token in BOOLEAN_TOKENS for v in _case_variants(token)]
    values = [BOOLEAN_TOKENS[k.lower()] for k in keys]
    g.output(
        "LabelEncoder",
        [operator.inputs[0].full_name],
        op_domain=ML_DOMAIN,
        op_version=ML_OPSET,
        keys_strings=keys,
        values_floats=values,
        default_float=float("nan"),
    )


def _floor_div(g: _Graph, a: str, b: float) -> str:
    return g.node("Floor", [g.node("Div", [a, g.const("d", TensorProto.DOUBLE, [b], [])])])


def _mod(g: _Graph, a: str, b: float) -> str:
    """``a mod b`` with the sign of ``b`` (floor modulo), for float64 tensors."""
    q = _floor_div(g, a, b)
    return g.node("Sub", [a, g.node("Mul", [q, g.const("m", TensorProto.DOUBLE, [b], [])])])


def _add(g: _Graph, a: str, b: float) -> str:
    return g.node("Add", [a, g.const("a", TensorProto.DOUBLE, [b], [])])


def _mul(g: _Graph, a: str, b: float) -> str:
    return g.node("Mul", [a, g.const("m", TensorProto.DOUBLE, [b], [])])


def _calendar(g: _Graph, seconds: str, features: tuple[str, ...]) -> list[str]:
    """The requested features of a ``float64`` tensor of Unix seconds (``NaN`` propagates)."""
    days = _floor_div(g, seconds, 86400.0)
    second_of_day = g.node("Sub", [seconds, _mul(g, days, 86400.0)])
    # civil_from_days (H. Hinnant): proleptic Gregorian year, month, day of a day number.
    z = _add(g, days, 719468.0)
    era = _floor_div(g, z, 146097.0)
    doe = g.node("Sub", [z, _mul(g, era, 146097.0)])
    yoe_num = g.node(
        "Sub",
        [
            g.node("Add", [g.node("Sub", [doe, _floor_div(g, doe, 1460.0)]), _floor_div(g, doe, 36524.0)]),
            _floor_div(g, doe, 146096.0),
        ],
    )
    yoe = _floor_div(g, yoe_num, 365.0)
    doy = g.node(
        "Sub",
        [
            doe,
            g.node("Sub", [g.node("Add", [_mul(g, yoe, 365.0), _floor_div(g, yoe, 4.0)]), _floor_div(g, yoe, 100.0)]),
        ],
    )
    mp = _floor_div(g, _add(g, _mul(g, doy, 5.0), 2.0), 153.0)
    day = _add(g, g.node("Sub", [doy, _floor_div(g, _add(g, _mul(g, mp, 153.0), 2.0), 5.0)]), 1.0)
    late = g.node(
        "Cast", [g.node("GreaterOrEqual", [mp, g.const("ten", TensorProto.DOUBLE, [10.0], [])])], to=TensorProto.DOUBLE
    )
    month = g.node("Sub", [_add(g, mp, 3.0), _mul(g, late, 12.0)])
    early = g.node(
        "Cast", [g.node("LessOrEqual", [month, g.const("two", TensorProto.DOUBLE, [2.0], [])])], to=TensorProto.DOUBLE
    )
    year = g.node("Add", [g.node("Add", [yoe, _mul(g, era, 400.0)]), early])

    def day_of_year() -> str:
        # days_from_civil(year, 1, 1): January counts in the previous March-based year.
        y = _add(g, year, -1.0)
        era1 = _floor_div(g, y, 400.0)
        yoe1 = g.node("Sub", [y, _mul(g, era1, 400.0)])
        doe1 = g.node(
            "Sub",
            [g.node("Add", [_mul(g, yoe1, 365.0), _floor_div(g, yoe1, 4.0)]), _floor_div(g, yoe1, 100.0)],
        )
        jan1 = _add(g, g.node("Add", [_mul(g, era1, 146097.0), doe1]), 306.0 - 719468.0)
        return _add(g, g.node("Sub", [days, jan1]), 1.0)

    makers: dict[str, Callable[[], str]] = {
        "year": lambda: year,
        "month": lambda: month,
        "day": lambda: day,
        "dayofweek": lambda: _mod(g, _add(g, days, 3.0), 7.0),  # 1970-01-01 was a Thursday (3)
        "dayofyear": day_of_year,
        "hour": lambda: _floor_div(g, second_of_day, 3600.0),
        "minute": lambda: _floor_div(g, _mod(g, second_of_day, 3600.0), 60.0),
        "quarter": lambda: _add(g, _floor_div(g, _add(g, month, -1.0), 3.0), 1.0),
    }
    return [makers[f]() for f in features]


def _convert_datetime(scope: Any, operator: Any, container: Any) -> None:
    g = _Graph(scope, operator, container)
    est = operator.raw_operator
    x = operator.inputs[0].full_name
    if operator.inputs[0].type.__class__.__name__ != "DoubleTensorType":
        x = g.node("Cast", [x], to=TensorProto.DOUBLE)
    blocks = []
    for j in range(est.n_features_in_):
        blocks += _calendar(g, g.column(x, j, est.n_features_in_), tuple(est.features))
    joined = blocks[0] if len(blocks) == 1 else g.node("Concat", blocks, axis=1)
    g.output("Cast", [joined], to=TensorProto.FLOAT)


def convert_standard_scaler(scope: Any, operator: Any, container: Any) -> None:
    """``StandardScaler`` computed in float64 from the exact ``mean_`` and ``scale_``.

    skl2onnx's own converter uses float32 statistics (even with ``div="div_cast"``), which
    moves scaled values by an ulp and flips tree splits that sit exactly on a training
    value; scikit-learn scales in float64 and the tree casts to float32 afterwards.
    Passed to ``convert_sklearn`` through ``custom_conversion_functions`` for one call,
    so skl2onnx's global registry is left alone.
    """
    g = _Graph(scope, operator, container)
    est = operator.raw_operator
    x = operator.inputs[0].full_name
    if len(operator.inputs) > 1:
        x = g.node("Concat", [v.full_name for v in operator.inputs], axis=1)
    y = g.node("Cast", [x], to=TensorProto.DOUBLE)
    n = est.n_features_in_
    if est.with_mean and est.mean_ is not None:
        y = g.node("Sub", [y, g.const("mean", TensorProto.DOUBLE, np.asarray(est.mean_, dtype=np.float64), [n])])
    if est.with_std and est.scale_ is not None:
        y = g.node("Div", [y, g.const("scale", TensorProto.DOUBLE, np.asarray(est.scale_, dtype=np.float64), [n])])
    out_type = (
        TensorProto.DOUBLE if type(operator.outputs[0].type).__name__ == "DoubleTensorType" else TensorProto.FLOAT
    )
    g.output("Cast", [y], to=out_type)


def convert_simple_imputer(scope: Any, operator: Any, container: Any) -> None:
    """``SimpleImputer`` on float64 numbers as ``Where(IsNaN(x), statistics, x)``.

    onnxruntime's ``Imputer`` kernel has no float64 version; skloop feeds the numeric
    columns of its ``auto`` pipelines as float64 (see ``numeric_float64``), so they
    need this. Other inputs go to skl2onnx's own converter.
    """
    from skl2onnx.operator_converters.imputer_op import convert_sklearn_imputer

    est = operator.raw_operator
    double = type(operator.inputs[0].type).__name__ == "DoubleTensorType"
    nan_missing = isinstance(est.missing_values, float) and np.isnan(est.missing_values)
    if not (double and nan_missing and len(operator.inputs) == 1):
        convert_sklearn_imputer(scope, operator, container)
        return
    g = _Graph(scope, operator, container)
    x = operator.inputs[0].full_name
    stats = np.asarray(est.statistics_, dtype=np.float64)
    filled = g.const("statistics", TensorProto.DOUBLE, stats, [len(stats)])
    g.output("Where", [g.node("IsNaN", [x]), filled, x])


def parse_standard_scaler(scope: Any, model: Any, inputs: list[Any], custom_parsers: Any = None) -> list[Any]:
    """Declare a ``StandardScaler``'s output float32 whatever its input.

    The scaler computes in float64 (:func:`convert_standard_scaler`) and hands float32
    on, as scikit-learn's trees and linear models see it.
    """
    operator = scope.declare_local_operator(get_model_alias(type(model)), model)
    operator.inputs = inputs
    operator.outputs.append(scope.declare_local_variable("scaled", FloatTensorType()))
    return list(operator.outputs)


def _float_parser(scope: Any, model: Any, inputs: list[Any], custom_parsers: Any = None) -> list[Any]:
    # skl2onnx types a step's output like its input; the datetime input is float64, but
    # the steps after DatetimeFeatures (an imputer: onnxruntime has none for float64)
    # must see float32, so this step declares its output itself.
    operator = scope.declare_local_operator(get_model_alias(type(model)), model)
    operator.inputs = inputs
    operator.outputs.append(scope.declare_local_variable("calendar", FloatTensorType()))
    return list(operator.outputs)


def register_converters() -> None:
    """Register skloop's converters with skl2onnx (idempotent).

    Examples
    --------
    >>> register_converters()  # doctest: +SKIP
    """
    global _registered
    if _registered:
        return
    update_registered_converter(MissingCategoryFiller, "SkloopMissingCategoryFiller", _string_shape, _convert_filler)
    update_registered_converter(RareCategoryGrouper, "SkloopRareCategoryGrouper", _string_shape, _convert_grouper)
    update_registered_converter(BooleanEncoder, "SkloopBooleanEncoder", _boolean_shape, _convert_boolean)
    update_registered_converter(
        DatetimeFeatures, "SkloopDatetimeFeatures", _datetime_shape, _convert_datetime, parser=_float_parser
    )
    _registered = True
