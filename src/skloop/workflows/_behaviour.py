"""Behavioural tests of a model (``validate.behaviour``): invariance, direction, fixed examples.

Each test perturbs rows and compares the model's *score*: the probability of one
class for a classifier (the test's ``class``, by default the positive class recorded
with a binary model, else the last of ``classes_``), the prediction for a regressor. A
test returns a status and a message that names the rows and values that broke it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from skloop.core import DirectionalTest, InvarianceTest, MinimumFunctionalityTest, UsageError
from skloop.data import class_name
from skloop.registry import Signature, coerce_frame

__all__ = ["behaviour_name", "check_behaviour_spec", "run_behaviour"]

_EPS = 1e-9  # score changes below this are float noise, not a move
_SHOWN = 5


def behaviour_name(test: Any, index: int) -> str:
    """The test's name in reports: its ``name``, else its kind and column."""
    if test.name:
        return str(test.name)
    column = getattr(test, "column", None)
    return f"{test.kind} {column}" if column else f"{test.kind} #{index}"


def _same(a: Any, b: Any) -> bool:
    return class_name(a) == class_name(b)  # one name per class: 1 names a 1.0 class


def _class_index(model: Any, wanted: Any, where: str) -> int:
    classes = list(getattr(model, "classes_", []))
    if wanted is None:
        return len(classes) - 1
    for i, c in enumerate(classes):
        if _same(c, wanted):
            return i
    raise UsageError(f"{where}.class: {wanted!r} is not a class of the model; its classes are {classes}")


def score(model: Any, X: pd.DataFrame, wanted: Any = None, where: str = "validate.behaviour") -> np.ndarray:
    """The probability of class ``wanted`` (classifiers) or the prediction (regressors), per row."""
    if hasattr(model, "predict_proba") and hasattr(model, "classes_"):
        proba = np.asarray(model.predict_proba(X), dtype=np.float64)
        return proba[:, _class_index(model, wanted, where)]
    return np.asarray(model.predict(X), dtype=np.float64).reshape(len(X))


def check_behaviour_spec(tests: list[Any], signature: Signature, model: Any) -> None:
    """Refuse tests naming columns the model does not take, or a class it does not know.

    Raises
    ------
    UsageError
        Naming ``validate.behaviour[i]`` and what is wrong (exit code 2 in the CLI).
    """
    names = signature.names
    for i, test in enumerate(tests):
        where = f"validate.behaviour[{i}]"
        column = getattr(test, "column", None)
        if column is not None and column not in names:
            raise UsageError(f"{where}.column: {column!r} is not an input of the model; its inputs are {names}")
        if isinstance(test, DirectionalTest) and signature[test.column].dtype not in ("int64", "float64"):
            raise UsageError(
                f"{where}: a directional test adds 'delta' to a number, but {test.column!r} is "
                f"{signature[test.column].dtype}; use an invariance test for other columns"
            )
        if test.class_ is not None and hasattr(model, "classes_"):
            _class_index(model, test.class_, where)


def _sample(pool: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    if len(pool) <= n:
        return pool.reset_index(drop=True)
    return pool.sample(n=n, random_state=seed).reset_index(drop=True)


def _invariance(test: InvarianceTest, model: Any, rows: pd.DataFrame) -> tuple[bool, str]:
    base = score(model, rows, test.class_)
    worst, worst_value, worst_row, over = 0.0, None, -1, 0
    for value in test.values:
        changed = rows.copy()
        changed[test.column] = pd.Series([value] * len(rows), index=rows.index)
        moved = np.abs(score(model, changed, test.class_) - base)
        over += int((moved > test.max_delta + _EPS).sum())
        i = int(np.argmax(moved))
        if moved[i] > worst:
            worst, worst_value, worst_row = float(moved[i]), value, i
    text = f"max |Δscore| {worst:.4f} over {len(rows)} rows x {len(test.values)} values of {test.column!r}"
    if over:
        return False, (
            f"{text} > max_delta {test.max_delta:g}: setting it to {worst_value!r} moved row {worst_row} "
            f"by {worst:.4f}; {over} (row, value) pairs moved more than allowed"
        )
    return True, f"{text} <= max_delta {test.max_delta:g}"


def _directional(test: DirectionalTest, model: Any, rows: pd.DataFrame) -> tuple[bool, str]:
    base = score(model, rows, test.class_)
    changed = rows.copy()
    changed[test.column] = rows[test.column].astype("float64") + test.delta
    moved = score(model, changed, test.class_) - base
    wrong = moved < -_EPS if test.direction == "increase" else moved > _EPS
    share = float(wrong.mean()) if len(wrong) else 0.0
    verb = "decreased" if test.direction == "increase" else "increased"
    text = (
        f"adding {test.delta:g} to {test.column!r} {verb} the score of {int(wrong.sum())} of {len(rows)} rows "
        f"({share:.1%}; tolerance {test.tolerance:.1%})"
    )
    if share > test.tolerance:
        rows_shown = ", ".join(f"row {i} ({moved[i]:+.4f})" for i in np.flatnonzero(wrong)[:_SHOWN])
        return False, f"{text}: {rows_shown}"
    return True, text


def _minimum_functionality(
    test: MinimumFunctionalityTest, model: Any, signature: Signature, where: str
) -> tuple[bool, str]:
    typed = coerce_frame([dict(e.row) for e in test.examples], signature)
    if typed.errors:
        problems = "; ".join(
            f"example {e.row if e.row is not None else '*'} column {e.column!r}: {e.problem}" for e in typed.errors
        )
        return False, f"the examples cannot be scored: {problems} (fix {where}.examples)"
    frame = typed.frame
    predictions = np.asarray(model.predict(frame))
    scores = score(model, frame, test.class_, where)
    failures = []
    for i, example in enumerate(test.examples):
        why = []
        if example.label is not None and not _same(predictions[i].item(), example.label):
            why.append(f"predicted {predictions[i].item()!r}, expected {example.label!r}")
        if example.min_probability is not None and scores[i] < example.min_probability:
            why.append(f"score {scores[i]:.4f} < min_probability {example.min_probability:g}")
        if example.max_probability is not None and scores[i] > example.max_probability:
            why.append(f"score {scores[i]:.4f} > max_probability {example.max_probability:g}")
        if why:
            failures.append(f"example {i}: " + ", ".join(why))
    if failures:
        return False, f"{len(failures)} of {len(test.examples)} examples fail: " + "; ".join(failures[:_SHOWN])
    return True, f"all {len(test.examples)} examples as expected"


def run_behaviour(
    test: Any, index: int, model: Any, pool: pd.DataFrame, signature: Signature, seed: int
) -> tuple[bool, str]:
    """Run one behavioural test; ``(passed, message)``.

    Parameters
    ----------
    test : InvarianceTest, DirectionalTest or MinimumFunctionalityTest
    index : int
        Its position in ``validate.behaviour`` (named in messages).
    model : estimator
        The fitted pipeline.
    pool : DataFrame
        Rows to sample from (the holdout), with the model's input columns.
    signature : Signature
        The model's inputs (types the fixed examples).
    seed : int
        Seed of the row sample.
    """
    where = f"validate.behaviour[{index}]"
    if getattr(test, "class_", None) is None and signature.output.positive_class is not None:
        test = test.model_copy(update={"class_": signature.output.positive_class})
    if isinstance(test, MinimumFunctionalityTest):
        return _minimum_functionality(test, model, signature, where)
    rows = _sample(pool[signature.names], test.rows, seed)
    if len(rows) == 0:
        return False, "no rows to test on (the holdout and the training data are empty)"
    if isinstance(test, InvarianceTest):
        return _invariance(test, model, rows)
    return _directional(test, model, rows)
