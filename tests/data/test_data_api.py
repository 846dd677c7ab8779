from __future__ import annotations

import skloop.data


def _isort_key(name: str) -> tuple[int, str]:
    # ruff's RUF022 order: CONSTANTS, then Classes, then functions
    rank = 0 if name.isupper() else 1 if name[0].isupper() else 2
    return rank, name


def test_all_is_sorted_and_complete() -> None:
    names = skloop.data.__all__
    assert names == sorted(names, key=_isort_key)
    public = {n for n in vars(skloop.data) if not n.startswith("_")}
    modules = {n for n in public if type(getattr(skloop.data, n)).__name__ == "module"}
    assert set(names) == public - modules - {"annotations"}
    for name in names:
        assert getattr(skloop.data, name) is not None
