"""Shadow mode: a second version (``name@challenger``) scores every request, never answers one.

The shadow is scored alongside the served model, through its own micro-batcher (so
concurrent requests share one shadow call, as they share one champion call), and
its outputs go into the same prediction log records, under ``outputs["shadow"]``::

    {"version": 3, "prediction": 1, "probabilities": {"0": 0.3, "1": 0.7}}
    {"version": 3, "error": "timed out after 100 ms"}

so that the log (and the store it is ingested into) holds both models' answers to the
same rows. The response waits for the shadow at most ``timeout`` seconds past the
served model's own answer; a slow, failing or missing shadow never fails a request.
The alias is followed like the served one: a promotion swaps the shadow, a deleted
alias stops shadowing, and an alias that does not exist yet means no shadow for now.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import numpy as np

from skloop.core import ModelNotFoundError
from skloop.registry import Registry
from skloop.serve._batcher import DEFAULT_MAX_BATCH_ROWS, MicroBatcher
from skloop.serve._model import ServedModel
from skloop.serve._validate import Prepared, to_frame

logger = logging.getLogger(__name__)

__all__ = ["DEFAULT_SHADOW_TIMEOUT_SECONDS", "Shadow"]

DEFAULT_SHADOW_TIMEOUT_SECONDS = 0.1
"""How long a response may wait for the shadow after the served model answered."""

ShadowResult = tuple[int, np.ndarray, np.ndarray | None, np.ndarray | None]


def _same_inputs(a: ServedModel, b: ServedModel) -> bool:
    return [(c.name, c.dtype) for c in a.signature.inputs] == [(c.name, c.dtype) for c in b.signature.inputs]


class Shadow:
    """The shadow model of a server, following ``name@alias``.

    Parameters
    ----------
    registry : Registry
    model_name, alias : str
        The shadow is ``model_name@alias``.
    loader : callable
        ``ref -> ServedModel`` (the server's own loader: same ONNX and trust options).
    timeout : float
        Seconds a response waits for the shadow after the served model answered.
    max_rows : int
        Cap of rows per shadow micro-batch.

    Attributes
    ----------
    model : ServedModel or None
        The shadow version now (``None``: no version holds the alias).
    failures : int
        Shadow scorings that failed or timed out (each logged in its records too).
    """

    def __init__(
        self,
        registry: Registry,
        model_name: str,
        alias: str,
        *,
        loader: Callable[[str], ServedModel],
        timeout: float = DEFAULT_SHADOW_TIMEOUT_SECONDS,
        max_rows: int = DEFAULT_MAX_BATCH_ROWS,
    ) -> None:
        self.registry = registry
        self.model_name = model_name
        self.alias = alias
        self.loader = loader
        self.timeout = timeout
        self.batcher = MicroBatcher(max_rows=max_rows)
        self.model: ServedModel | None = None
        self.failures = 0

    @property
    def ref(self) -> str:
        """``name@alias``."""
        return f"{self.model_name}@{self.alias}"

    def load(self) -> ServedModel | None:
        """Load the alias's version now; ``None`` (no shadow) when the alias holds none or fails to load."""
        try:
            self.model = self.loader(self.ref)
        except ModelNotFoundError:
            self.model = None
        except Exception as exc:  # the served model must start even when the shadow cannot
            logger.warning("not shadowing with %s: it cannot be loaded: %s", self.ref, exc)
            self.model = None
        return self.model

    async def refresh(self) -> ServedModel | None:
        """Follow the alias: swap to the version it holds now, or stop shadowing when it is gone."""
        held = await asyncio.to_thread(self.registry.aliases, self.model_name)
        target = held.get(self.alias)
        if target is None:
            if self.model is not None:
                logger.info("stopped shadowing: %s holds no version", self.ref)
            self.model = None
        elif self.model is None or self.model.version != target:
            new = await asyncio.to_thread(self.loader, f"{self.model_name}/{target}")
            logger.info("now shadowing with %s", new.ref)
            self.model = new
        return self.model

    def start(self, served: ServedModel, rows: Prepared) -> asyncio.Task[ShadowResult] | None:
        """Start scoring ``rows`` (prepared for ``served``) with the shadow; ``None`` without one."""
        model = self.model
        if model is None:
            return None
        return asyncio.get_running_loop().create_task(self._score(model, served, rows))

    async def _score(self, model: ServedModel, served: ServedModel, rows: Prepared) -> ShadowResult:
        if not _same_inputs(model, served):
            frame = await asyncio.to_thread(to_frame, rows, served.signature)
            rows = await asyncio.to_thread(model.compiled.from_table, frame)
        predictions, proba = await self.batcher.predict(model, rows)
        labels = None if model.class_names is None else np.asarray(model.class_names)
        return model.version, predictions, proba, labels

    async def collect(self, task: asyncio.Task[ShadowResult], n: int) -> list[dict[str, Any]]:
        """The shadow's output per row, or its error for every row; never raises."""
        version = self.model.version if self.model is not None else None
        try:
            version, predictions, proba, labels = await asyncio.wait_for(task, self.timeout)
        except TimeoutError:
            return self._failed(version, n, f"timed out after {self.timeout * 1000:.0f} ms")
        except Exception as exc:  # contained: the served answer stands
            return self._failed(version, n, f"{type(exc).__name__}: {exc}")
        preds = predictions.tolist()
        if proba is None or labels is None:
            return [{"version": version, "prediction": p} for p in preds]
        names = labels.tolist()
        return [
            {"version": version, "prediction": p, "probabilities": dict(zip(names, row, strict=True))}
            for p, row in zip(preds, proba.tolist(), strict=True)
        ]

    def _failed(self, version: int | None, n: int, why: str) -> list[dict[str, Any]]:
        self.failures += 1
        if self.failures == 1 or self.failures % 1000 == 0:
            logger.warning("shadow %s failed (%d times so far): %s", self.ref, self.failures, why)
        return [{"version": version, "error": why} for _ in range(n)]
