"""Estimators for tests that need a search to fail, be interrupted, or take its time."""

from __future__ import annotations

import os
import time

from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.dummy import DummyClassifier


class SleepyClassifier(ClassifierMixin, BaseEstimator):
    """Sleeps in fit, then behaves like a prior-predicting dummy."""

    def __init__(self, seconds: float = 0.5, random_state: int | None = None) -> None:
        self.seconds = seconds
        self.random_state = random_state

    def fit(self, X, y):
        time.sleep(self.seconds)
        self.dummy_ = DummyClassifier(strategy="prior").fit(X, y)
        self.classes_ = self.dummy_.classes_
        return self

    def predict(self, X):
        return self.dummy_.predict(X)

    def predict_proba(self, X):
        return self.dummy_.predict_proba(X)


class InterruptingClassifier(SleepyClassifier):
    """Raises KeyboardInterrupt in fit, as Ctrl-C would."""

    def fit(self, X, y):
        raise KeyboardInterrupt


def sleepy() -> SleepyClassifier:
    return SleepyClassifier(seconds=float(os.environ.get("SLEEPY_SECONDS", "0.5")))


class FailingClassifier(SleepyClassifier):
    """Raises in fit, as an estimator hitting bad data would."""

    def fit(self, X, y):
        raise ValueError("the estimator refused this data on purpose")
