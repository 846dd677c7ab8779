"""The data contract of ``skloop validate``: the training data against the signature and ``validate.contract``.

The data checked is what ``data.train`` reads now, i.e. what the next training run
would learn from: a column renamed, retyped or newly nullable upstream fails here
before it reaches a model.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from skloop.core import ContractColumn, Settings, Spec
from skloop.data import read_table
from skloop.registry import Signature, canonical_dtype, coerce_frame

__all__ = ["contract_checks"]

Check = tuple[str, Callable[[], tuple[Any, str]]]
_SHOWN = 5


def _dtype_ok(values: pd.Series, expected: str) -> tuple[bool, str]:
    """Whether ``values`` hold ``expected`` data (whole floats count as integers, integers as floats)."""
    found = canonical_dtype(values)
    if found == expected or (found == "int64" and expected == "float64"):
        return True, found
    if found == "float64" and expected == "int64":
        finite = values.dropna().to_numpy(dtype="float64")
        return bool(np.all(np.mod(finite, 1) == 0)), found
    return False, found


def _shown(values: Any) -> str:
    items = list(values)
    more = f" and {len(items) - _SHOWN} more" if len(items) > _SHOWN else ""
    return ", ".join(repr(v) for v in items[:_SHOWN]) + more


def _signature_check(frame: pd.DataFrame, signature: Signature, name: str) -> Callable[[], tuple[Any, str]]:
    def check() -> tuple[Any, str]:
        col = signature[name]
        if name not in frame.columns:
            return "fail", f"column {name!r} is missing from the data; the model takes it ({col.dtype}, {col.kind})"
        ok, found = _dtype_ok(frame[name], col.dtype)
        # numbers with a few words that training read as missing: coerce_frame reads them the same way
        words_as_missing = col.not_numbers and found == "string"
        if not ok and not words_as_missing:
            return "fail", f"{name!r} holds {found} values; the model was trained on {col.dtype}"
        result = coerce_frame(frame[[name]], Signature((col,), signature.output))
        errors = [i for i in result.errors if i.column == name]
        if errors:
            rows = len(result.error_rows)
            return "fail", f"{rows} rows cannot be scored: {errors[0].problem}"
        notes = sorted({i.problem.split(" is ", 1)[-1].split(";")[0] for i in result.flags if i.column == name})
        extra = f" (flagged: {'; '.join(notes)})" if notes else ""
        if words_as_missing:
            return "pass", f"{name!r}: {col.dtype} with words in it, read as missing as in training{extra}"
        return "pass", f"{name!r}: {found}, as the signature{extra}"

    return check


def _contract_check(frame: pd.DataFrame, name: str, rule: ContractColumn) -> Callable[[], tuple[Any, str]]:
    def check() -> tuple[Any, str]:
        if name not in frame.columns:
            return "fail", f"column {name!r} is missing from the data (validate.contract.columns)"
        values = frame[name]
        problems = []
        if rule.dtype is not None:
            ok, found = _dtype_ok(values, rule.dtype)
            if not ok:
                problems.append(f"dtype {found}, expected {rule.dtype}")
        missing = int(values.isna().sum())
        if not rule.nullable and missing:
            problems.append(f"{missing} missing values, expected none")
        present = values.dropna()
        if rule.categories is not None:
            allowed = {str(c) for c in rule.categories}
            unknown = sorted({str(v) for v in present.unique()} - allowed)
            if unknown:
                problems.append(f"values outside the allowed categories: {_shown(unknown)}")
        if rule.min is not None or rule.max is not None:
            numbers = pd.to_numeric(present, errors="coerce")
            if numbers.isna().any():
                problems.append("non-numeric values where a range is declared")
            low = int((numbers < rule.min).sum()) if rule.min is not None else 0
            high = int((numbers > rule.max).sum()) if rule.max is not None else 0
            if low:
                problems.append(f"{low} values below min {rule.min:g} (lowest {numbers.min():g})")
            if high:
                problems.append(f"{high} values above max {rule.max:g} (highest {numbers.max():g})")
        if problems:
            return "fail", f"{name!r}: " + "; ".join(problems)
        return "pass", f"{name!r}: {len(values)} values as declared"

    return check


def contract_checks(spec: Spec, settings: Settings, signature: Signature) -> list[Check]:
    """The contract checks, as ``(name, function)`` pairs the caller times and runs.

    One check per signature input (with ``validate.contract.signature``), one per
    column of ``validate.contract.columns``, and one for extra columns when
    ``extra_columns`` is ``forbid``. When ``data.train`` cannot be read, one failing
    check says why.
    """
    contract = spec.validate_.contract
    try:
        frame = read_table(spec.data.train, settings.base_dir)
    except Exception as exc:  # the data source is part of the contract: unreadable is a failure
        message = f"data.train cannot be read: {type(exc).__name__}: {exc}"
        return [("read data.train", lambda: ("fail", message))]
    checks: list[Check] = []
    if contract.signature:
        checks += [(f"signature: {n}", _signature_check(frame, signature, n)) for n in signature.names]
    checks += [(f"contract: {n}", _contract_check(frame, n, rule)) for n, rule in contract.columns.items()]
    if contract.extra_columns == "forbid":
        roles = {c for c in (spec.data.target, spec.data.id, spec.data.time) if c}

        def extras() -> tuple[Any, str]:
            unexpected = [c for c in frame.columns if c not in contract.columns and c not in roles]
            if unexpected:
                return "fail", f"columns not in validate.contract.columns: {_shown(unexpected)}"
            return "pass", "no columns beyond the declared ones"

        checks.append(("contract: no extra columns", extras))
    if not checks:
        checks.append(("contract", lambda: ("skip", "no contract declared and validate.contract.signature is false")))
    return checks
