"""Request validation benchmark: the columnar validator against the per-value checks it replaced and pydantic.

Validates the same rows of 10 typed columns (3 ``float64``, 2 nullable ``int64`` with a
training range, a ``bool``, 2 categorical ``string``, a ``datetime64`` and a nullable
free-text ``string``), as the JSON parser hands them to the server, at 1, 100, 1,000
and 10,000 rows, with:

- **before**: ``CompiledSignature`` of the commit before the columnar validator (the
  server's ``serve/_validate.py`` and ``registry/_coerce.py`` of ``--baseline-commit``,
  loaded from git): one Python check per value up to 4,096 rows, then the pandas
  ``coerce_frame``;
- **columnar**: today's ``CompiledSignature`` (the registry's one ``Validator``);
- **pydantic**: a pydantic v2 model built per signature with ``create_model`` (types
  and int64 bounds only: no category or range flags, no lone-surrogate or date-range
  checks, so it does less than the other two), validating the records with a
  ``TypeAdapter(list[Row])``.

Both request shapes are timed for the first two: ``dataframe_records`` (a list of row
objects) and ``dataframe_split`` (columns). Prints the best time per call (ms) of
``--repeat`` runs and the ratios. Usage::

    python benchmarks/bench_validation.py [--repeat 7] [--baseline-commit 14d39d9]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import types
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

ROOT = Path(__file__).resolve().parent.parent
SIZES = (1, 100, 1_000, 10_000)
BASELINE = "14d39d9"  # the last commit with the per-value fast path (serve/_validate.py)


def signature() -> Any:
    from skloop.registry import InputColumn, OutputSchema, Signature

    cols = [
        *(InputColumn(f"x{i}", "float64", "numeric", False, None, 0.0, 1.0) for i in range(3)),
        *(InputColumn(f"k{i}", "int64", "numeric", True, None, 0, 100) for i in range(2)),
        InputColumn("member", "bool", "boolean", False, (False, True)),
        *(InputColumn(f"plan{i}", "string", "categorical", False, ("basic", "plus", "pro")) for i in range(2)),
        InputColumn("signup", "datetime64", "datetime", False, None, "2020-01-01T00:00:00", "2030-01-01T00:00:00"),
        InputColumn("note", "string", "text", True),
    ]
    return Signature(tuple(cols), OutputSchema("regression", None, "float64"))


def columns(n: int) -> dict[str, list[Any]]:
    """JSON-parsed values, as orjson gives them (floats, ints, bools, strings, None)."""
    return {
        **{f"x{i}": [((k * 7919 + i) % 1000) / 1000 for k in range(n)] for i in range(3)},
        **{f"k{i}": [None if k % 11 == 3 else (k * 31 + i) % 100 for k in range(n)] for i in range(2)},
        "member": [k % 3 == 0 for k in range(n)],
        **{f"plan{i}": [("basic", "plus", "pro")[(k + i) % 3] for k in range(n)] for i in range(2)},
        "signup": [f"2024-{1 + k % 12:02d}-{1 + k % 28:02d}T{k % 24:02d}:30:00" for k in range(n)],
        "note": [None if k % 4 == 0 else f"customer note {k}" for k in range(n)],
    }


def records(cols: dict[str, list[Any]]) -> list[dict[str, Any]]:
    names = list(cols)
    return [dict(zip(names, row, strict=True)) for row in zip(*cols.values(), strict=True)]


def baseline_module(commit: str) -> types.ModuleType:
    """The server's validation module of ``commit``, with the ``coerce_frame`` of that commit."""

    def source(path: str) -> str:
        return subprocess.run(
            ["git", "-C", str(ROOT), "show", f"{commit}:{path}"], capture_output=True, text=True, check=True
        ).stdout

    def load(name: str, text: str) -> types.ModuleType:
        module = types.ModuleType(name)
        module.__file__ = f"<{commit}:{name}>"
        sys.modules[name] = module  # dataclasses look their module up here
        exec(compile(text, module.__file__, "exec"), module.__dict__)
        return module

    load("bench_old_coerce", source("src/skloop/registry/_coerce.py"))
    text = source("src/skloop/serve/_validate.py").replace(
        "from skloop.registry import (", "from bench_old_coerce import ("
    )
    return load("bench_old_validate", text)


def pydantic_validator(sig: Any) -> Callable[[list[dict[str, Any]]], Any]:
    from pydantic import ConfigDict, Field, TypeAdapter, create_model

    int64 = Annotated[int, Field(ge=-(2**63), le=2**63 - 1)]
    finite = Annotated[float, Field(allow_inf_nan=False)]
    kinds: dict[str, Any] = {"float64": finite, "int64": int64, "bool": bool, "string": str, "datetime64": datetime}
    fields: dict[str, Any] = {}
    for col in sig.inputs:
        kind = kinds[col.dtype]
        fields[col.name] = (kind | None, None) if col.nullable else (kind, ...)
    row = create_model("Row", __config__=ConfigDict(extra="ignore"), **fields)
    adapter = TypeAdapter(list[row])
    return adapter.validate_python


def timed(fn: Callable[[], Any], repeat: int, n: int) -> float:
    """Best ms per call of ``repeat`` runs (the machine is shared: the best is the least disturbed);
    small inputs are run in loops long enough for the clock."""
    loops = max(1, 2_000 // max(n, 1))
    fn()  # warm up (and fail early)
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        for _ in range(loops):
            fn()
        times.append((time.perf_counter() - started) / loops)
    return min(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--baseline-commit", default=BASELINE)
    args = parser.parse_args()

    from skloop.serve._validate import CompiledSignature

    sig = signature()
    new = CompiledSignature(sig)
    old = baseline_module(args.baseline_commit).CompiledSignature(sig)
    pyd = pydantic_validator(sig)

    results: list[dict[str, Any]] = []
    for n in SIZES:
        cols = columns(n)
        rows = records(cols)
        # the three accept the same rows, and the two skloop paths type them alike
        a, b = old.from_records(rows), new.from_records(rows)
        import numpy as np

        assert [f.to_dict() for f in a.flags] == [f.to_dict() for f in b.flags]
        for c in sig.names:
            x, y = a.columns[c], b.columns[c]
            assert x.dtype == y.dtype and (x.tolist() == y.tolist() or np.array_equal(x, y, equal_nan=True)), c
        pyd(rows)
        results.append(
            {
                "n": n,
                "before records": timed(lambda rows=rows: old.from_records(rows), args.repeat, n),
                "columnar records": timed(lambda rows=rows: new.from_records(rows), args.repeat, n),
                "pydantic records": timed(lambda rows=rows: pyd(rows), args.repeat, n),
                "before columns": timed(lambda cols=cols: old.from_columns(cols), args.repeat, n),
                "columnar columns": timed(lambda cols=cols: new.from_columns(cols), args.repeat, n),
            }
        )
        print(f"  {n} rows done", flush=True)

    print()
    head = ("rows", "before rec", "columnar rec", "pydantic rec", "before col", "columnar col")
    print(" ".join(f"{h:>12}" for h in head), "  before/columnar (rec, col)  pydantic/columnar (rec)")
    for r in results:
        rec = r["before records"] / r["columnar records"]
        col = r["before columns"] / r["columnar columns"]
        pyd_ratio = r["pydantic records"] / r["columnar records"]
        cells = [r[k] for k in list(r)[1:]]
        print(
            f"{r['n']:>12}", " ".join(f"{c:>12.3f}" for c in cells), f"  {rec:>6.1f}x {col:>6.1f}x {pyd_ratio:>18.1f}x"
        )
    print(f"(ms per call, best of {args.repeat}; load average at the end {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
