"""docs/python-api.md runs as written: its ``pycon`` blocks, in order, as one doctest in an empty folder.

The page is the Python API's reference; running it keeps every example and every
printed result true (a changed return type or a renamed method fails here).
"""

from __future__ import annotations

import doctest
import os
import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "python-api.md"
_BLOCK = re.compile(r"^```pycon\n(.*?)^```", re.S | re.M)


def doc_examples(text: str) -> str:
    """The ``pycon`` blocks of ``text``, joined into one doctest source."""
    return "\n".join(_BLOCK.findall(text))


def test_the_page_has_examples_for_every_step() -> None:
    source = doc_examples(DOC.read_text(encoding="utf-8"))
    for call in ("train(", "register(", "promote(", "rollback(", "predict(", "predict_file(", "serve_app(",
                 "monitor(", "explain(", "validate(", "loop(", "compare_data(", "compare_data_files(",
                 "compare_models("):  # fmt: skip
        assert f".{call}" in source, f"docs/python-api.md runs no example of {call.rstrip('(')}"


def test_python_api_doc_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key in [k for k in os.environ if k.startswith("SKLOOP_")]:
        monkeypatch.delenv(key)  # the page's project uses the default store under its own folder
    monkeypatch.chdir(tmp_path)
    text = DOC.read_text(encoding="utf-8")
    parser = doctest.DocTestParser()
    test = parser.get_doctest(doc_examples(text), {}, DOC.name, str(DOC), 0)
    assert len(test.examples) > 40
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    failures: list[str] = []

    class _Out:
        def write(self, text: str) -> None:
            failures.append(text)

    try:
        result = runner.run(test, out=_Out().write)
    finally:
        project = test.globs.get("project")
        if project is not None:
            project.close()  # the page closes it; a failed example may not get there
    assert result.failed == 0, "".join(failures)
