"""Time paging alone (``store.predictions.iter_pages``) over a ``bench_log.py`` store.

Usage::

    python benchmarks/bench_log_pages.py DIR [MAX_PAGES] [time|id]

``DIR`` is a ``bench_log.py --dir`` folder; prints rows, pages, seconds, rows/s and the
first and last page's time (a last page slower than the others would mean each page
rescans earlier rows). Run under ``python -m cProfile -s cumtime`` to split the fetch,
the JSON decoding and the frames.
"""

import itertools
import sys
import time

from skloop.store import Store


def main() -> None:
    root = sys.argv[1]
    max_pages = int(sys.argv[2]) if len(sys.argv) > 2 else 10**9
    order = sys.argv[3] if len(sys.argv) > 3 else "time"
    db = f"{root}/.skloop/skloop.db"
    with Store.open(f"sqlite:///{db}", f"{root}/.skloop/artifacts") as store:
        model = store.models.model_names()[0]
        t0 = time.perf_counter()
        rows, stamps = 0, [t0]
        for page in store.predictions.iter_pages(model, page_size=10_000, order=order):  # type: ignore[arg-type]
            stamps.append(time.perf_counter())
            rows += len(page)
            if len(stamps) > max_pages:
                break
        total = stamps[-1] - t0
        gaps = [b - a for a, b in itertools.pairwise(stamps)]
        print(f"{db}: {rows} rows in {len(gaps)} pages, {total:.1f} s, {rows / total:,.0f} rows/s")
        print(f"first page {gaps[0]:.2f} s, last {gaps[-1]:.2f} s, slowest {max(gaps):.2f} s")


if __name__ == "__main__":
    main()
