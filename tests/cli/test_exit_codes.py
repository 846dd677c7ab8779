"""Every error class exits with the code docs/cli.md documents for it, from the CLI's one table."""

from __future__ import annotations

import importlib
import pkgutil
import re
import sys
from pathlib import Path

import pytest

import skloop
import skloop.cli._app as cli_app
from skloop.cli._errors import EXIT_CODES, EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_USAGE, exit_for
from skloop.core import SkloopError

DOCS = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def _documented() -> tuple[dict[str, int], int]:
    """``({class name: code}, code of "any other exception")`` from the exit code table of docs/cli.md."""
    text = DOCS.read_text(encoding="utf-8")
    section = text[text.index("## Errors and exit codes") :]
    section = section[: section.index("\n## ", 4)]
    by_class: dict[str, int] = {}
    other = None
    for row in re.findall(r"^\| `(\d+)` \|([^|]*)\|", section, re.M):
        code, errors = int(row[0]), row[1]
        for name in re.findall(r"`([A-Z]\w*(?:Error|Interrupt))`", errors):
            by_class[name] = code
        if "any other exception" in errors:
            other = code
    assert by_class and other is not None, "the exit code table of docs/cli.md lost its error column"
    return by_class, other


def _every_error_class() -> list[type[BaseException]]:
    for info in pkgutil.walk_packages(skloop.__path__, "skloop."):
        if ".migrations" in info.name or info.name.endswith("__main__"):
            continue
        try:
            importlib.import_module(info.name)
        except ImportError:
            continue
    found, todo = {SkloopError}, [SkloopError]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub not in found and sub.__module__.startswith("skloop."):
                found.add(sub)
                todo.append(sub)
    return sorted(found, key=lambda c: c.__name__)


def _documented_code(cls: type[BaseException], by_class: dict[str, int], other: int) -> int:
    """The code of the nearest class of ``cls`` (its MRO order) that the docs list."""
    for base in cls.__mro__:
        if base.__name__ in by_class and base.__module__.startswith(("skloop.", "builtins")):
            return by_class[base.__name__]
    return other


@pytest.mark.parametrize("cls", _every_error_class(), ids=lambda c: c.__name__)
def test_each_skloop_error_exits_with_its_documented_code(cls: type[BaseException]) -> None:
    by_class, other = _documented()
    error = cls.__new__(cls)  # isinstance is all exit_for reads; constructors differ
    assert exit_for(error) == _documented_code(cls, by_class, other), cls.__name__


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (RecursionError("maximum recursion depth exceeded"), EXIT_INTERNAL),
        (RuntimeError("a bug"), EXIT_INTERNAL),
        (KeyError("x"), EXIT_INTERNAL),
        (KeyboardInterrupt(), EXIT_INTERRUPTED),
    ],
)
def test_errors_from_outside_the_family(error: BaseException, code: int) -> None:
    by_class, other = _documented()
    assert exit_for(error) == code == _documented_code(type(error), by_class, other)


def test_the_table_and_the_docs_name_the_same_classes() -> None:
    by_class, other = _documented()
    table = {kind.__name__: code for kind, code in EXIT_CODES}
    assert table == {name: code for name, code in by_class.items() if name in table}
    assert set(table) <= set(by_class), f"classes of EXIT_CODES missing from docs/cli.md: {set(table) - set(by_class)}"
    assert other == EXIT_INTERNAL and len({EXIT_INTERNAL, *table.values()}) == len(set(table.values())) + 1


def test_the_search_filter_error_is_a_usage_error() -> None:
    from skloop.store import SearchFilterError

    assert exit_for(SearchFilterError("bad")) == EXIT_USAGE


def test_an_error_around_the_commands_is_one_line_with_its_code(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # raised while the global options are read, before any command's own handler runs
    def broken(debug: bool) -> None:
        raise RuntimeError("the callback broke")

    monkeypatch.setattr(cli_app, "set_debug", broken)
    monkeypatch.setattr(sys, "argv", ["skloop", "runs"])
    with pytest.raises(SystemExit) as exited:
        cli_app.main()
    assert exited.value.code == EXIT_INTERNAL
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.strip() == "error: RuntimeError: the callback broke (rerun with --debug for the traceback)"
