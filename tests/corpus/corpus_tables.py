"""The corpus: seeded tables that differ from the churn example in every way real tables do.

Each :class:`Table` makes rows on demand (``make(n, seed=..., shift=...)``): the training
file at shift 0, traffic at shift 0 and a drifted second half. Across the corpus:

========== ============== =========== ======= ===========================================
table      task           label dtype format  what else it brings
========== ============== =========== ======= ===========================================
loans      binary         float 0/1   CSV     id ``loan_id``, time ``issued_at`` (ISO
                                              strings), numbers with missing values, a
                                              categorical with missing and unseen values,
                                              a boolean, a date-string feature, a
                                              high-cardinality column
passengers binary         string      CSV     free text ``name``, missing ``Fare``,
                                              ``Age`` and ``embarked``, a leak ``boat``,
                                              integer id ``PassengerId``
census     binary         bool        Parquet pandas category columns, a datetime64
                                              feature, no id
tickets    multiclass     category    Parquet free text ``subject``, ``wait_minutes``
                                              numbers with a few bad values (strings),
                                              time ``opened`` (ISO strings, rising, no
                                              time-like name)
housing    regression     float       Parquet dictionary-encoded columns, time
                                              ``sold_at`` (datetime64)
breast_    binary         string      CSV     scikit-learn's offline table
cancer
wine       multiclass     int         Parquet scikit-learn's offline table
diabetes   regression     float       CSV     scikit-learn's offline table
iris       multiclass     string      CSV     scikit-learn's offline table
========== ============== =========== ======= ===========================================

Nothing is downloaded: the generated tables come from ``numpy.random.default_rng`` and
the scikit-learn ones from ``sklearn.datasets.load_*`` (bundled with scikit-learn).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

__all__ = ["TABLES", "Table", "write_table"]

Maker = Callable[..., pd.DataFrame]


@dataclass(frozen=True)
class Table:
    """One corpus table and what ``skloop init`` should find in it.

    Attributes
    ----------
    name : str
    target : str
    task : {"binary", "multiclass", "regression"}
    fmt : {"csv", "csv;", "parquet"}
        ``csv;`` is a European export: ``;``-separated with decimal commas.
    make : callable
        ``make(n, *, seed, shift) -> DataFrame`` (target included); ``shift`` in [0, 1]
        moves the features (and, where it makes sense, the target's relation to them).
    rows : int
        Rows of the training file.
    id : str or None
        The column ``init`` must set as ``data.id``.
    time : str or None
        The column ``init`` must set as ``data.time``.
    leak : str or None
        A column ``init`` must drop as a suspected leak.
    dirty : str or None
        A mostly numeric column ``init`` must make numeric.
    unseen : dict
        ``column -> value`` never seen in training, sent to the server.
    dictionary : tuple of str
        Columns written as Parquet dictionary arrays.
    late_missing : str or None
        A numeric column complete in training that has missing values in the traffic
        (the pipeline imputes it; issue 10 item 6).
    """

    name: str
    target: str
    task: str
    fmt: str
    make: Maker
    rows: int = 1000
    id: str | None = None
    time: str | None = None
    leak: str | None = None
    dirty: str | None = None
    unseen: dict[str, object] = field(default_factory=dict)
    dictionary: tuple[str, ...] = ()
    late_missing: str | None = None

    @property
    def suffix(self) -> str:
        return ".parquet" if self.fmt == "parquet" else ".csv"  # "csv;" too: the separator is sniffed


def write_table(table: Table, frame: pd.DataFrame, path: Path) -> Path:
    """Write ``frame`` as the table's format (Parquet with its dictionary columns)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if table.fmt == "csv":
        frame.to_csv(path, index=False)
        return path
    if table.fmt == "csv;":
        frame.to_csv(path, index=False, sep=";", decimal=",")
        return path
    arrow = pa.Table.from_pandas(frame, preserve_index=False)
    for column in table.dictionary:
        if column in arrow.column_names:
            i = arrow.column_names.index(column)
            arrow = arrow.set_column(i, column, pc_dictionary(arrow.column(column)))
    pq.write_table(arrow, path)
    return path


def pc_dictionary(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """A column as a dictionary array (what Spark and Arrow writers often produce for strings)."""
    return column.dictionary_encode() if not pa.types.is_dictionary(column.type) else column


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def _with_missing(rng: np.random.Generator, values: np.ndarray, share: float) -> np.ndarray:
    out = values.astype(object if values.dtype.kind in "OUS" else float)
    out[rng.random(len(out)) < share] = None if out.dtype == object else np.nan
    return out


# -- generated tables --------------------------------------------------------------


def make_loans(n: int, *, seed: int = 0, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    amount = rng.lognormal(9.3 + 0.6 * shift, 0.5, n).round(0)
    income = rng.normal(60_000 - 25_000 * shift, 15_000, n).clip(8_000)
    purposes = np.array(["car", "home", "education", "medical", "business"])
    purpose = purposes[rng.choice(5, n, p=[0.3, 0.25, 0.2, 0.15, 0.1])]
    cosigner = rng.random(n) < 0.3
    term = np.where(rng.random(n) < 0.4 + 0.4 * shift, "60m", "36m")
    z = (
        -1.0
        + 1.2 * (amount / income * 4 - 1)
        - 0.8 * cosigner
        + 0.6 * (term == "60m")
        + 0.5 * (purpose == "business")
        + rng.normal(0, 0.4, n)
    )
    defaulted = (rng.random(n) < _sigmoid(z)).astype(float)  # stored as 0.0 / 1.0
    start = pd.Timestamp("2024-01-01") + pd.Timedelta(days=40 * seed)
    issued = start + pd.to_timedelta(np.arange(n) * 45 + rng.integers(0, 40, n), unit="min")
    since = pd.Timestamp("2005-01-01") + pd.to_timedelta(rng.integers(0, 6000, n), unit="D")
    return pd.DataFrame({
        "loan_id": [f"L{seed:02d}-{i:05d}" for i in range(n)],
        "issued_at": issued.strftime("%Y-%m-%d %H:%M:%S"),
        "amount": amount,
        "income": _with_missing(rng, income.round(0), 0.08),
        "term": term,
        "purpose": _with_missing(rng, purpose, 0.05),
        "has_cosigner": cosigner,
        "employer_since": since.strftime("%Y-%m-%d"),
        "branch": [f"B{k:03d}" for k in rng.integers(0, 300, n)],  # high cardinality
        "defaulted": defaulted,
    })  # fmt: skip


_FIRST = np.array(
    [
        "John",
        "William",
        "James",
        "George",
        "Charles",
        "Mary",
        "Anna",
        "Elizabeth",
        "Margaret",
        "Helen",
        "Thomas",
        "Henry",
        "Edward",
        "Alice",
        "Florence",
        "Arthur",
        "Frederick",
        "Emily",
        "Ada",
        "Louise",
    ]
)
_LAST = np.array(
    [
        "Smith",
        "Brown",
        "Johnson",
        "Andersson",
        "Sage",
        "Goodwin",
        "Panula",
        "Skoog",
        "Rice",
        "Asplund",
        "Carter",
        "Fortune",
        "Harper",
        "Kelly",
        "Murphy",
        "Olsen",
        "Palsson",
        "Ryerson",
        "Thayer",
        "Widener",
    ]
)


def make_passengers(n: int, *, seed: int = 0, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    cls = rng.choice([1, 2, 3], n, p=[0.25 - 0.1 * shift, 0.25, 0.5 + 0.1 * shift])
    female = rng.random(n) < 0.35
    age = rng.normal(30 + 8 * shift, 13, n).clip(0.5, 80).round(1)
    fare = (rng.lognormal(3.3, 0.8, n) * np.select([cls == 1, cls == 2], [3.0, 1.4], 0.7)).round(2)
    embarked = rng.choice(np.array(["S", "C", "Q"]), n, p=[0.7, 0.2, 0.1])
    sibsp = rng.poisson(0.5, n)
    z = 1.8 * female - 0.9 * (cls - 2) - 0.02 * (age - 30) - 0.6 + rng.normal(0, 0.5, n)
    survived = rng.random(n) < _sigmoid(z)
    title = np.where(female, rng.choice(np.array(["Mrs.", "Miss."]), n), rng.choice(np.array(["Mr.", "Master."]), n))
    names = [
        f"{_LAST[a]}, {t} {_FIRST[b]} {_FIRST[c]} ({_FIRST[d]} {_LAST[e]})"
        for t, a, b, c, d, e in zip(title, *(rng.integers(0, 20, (5, n))), strict=True)
    ]
    # the lifeboat is recorded after the outcome: almost every survivor has one
    boats = np.array(["1", "2", "3", "4", "5", "7", "9", "13", "15", "C", "D"])
    boat = np.where(survived & (rng.random(n) < 0.97), boats[rng.integers(0, len(boats), n)], None)
    return pd.DataFrame({
        "PassengerId": np.arange(n) + 1 + 100_000 * seed,
        "Pclass": cls,
        "name": names,
        "sex": np.where(female, "female", "male"),
        "Age": _with_missing(rng, age, 0.2),
        "SibSp": sibsp,
        "Fare": _with_missing(rng, fare, 0.03),
        "embarked": _with_missing(rng, embarked, 0.02),
        "boat": boat,
        "survived": np.where(survived, "yes", "no"),
    })  # fmt: skip


def make_census(n: int, *, seed: int = 0, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 80, n)
    edu_levels = ["HS-grad", "Some-college", "Bachelors", "Masters", "Doctorate"]
    edu = rng.choice(5, n, p=[0.35 - 0.15 * shift, 0.25, 0.25, 0.1 + 0.1 * shift, 0.05 + 0.05 * shift])
    work_levels = ["Private", "Self-emp", "Federal-gov", "Local-gov", "Without-pay"]
    work = rng.choice(5, n, p=[0.6, 0.15, 0.1, 0.13, 0.02])
    hours = rng.normal(40 + 5 * shift, 10, n).clip(1, 99).round(0)
    z = -4.0 + 0.04 * age + 0.9 * edu + 0.04 * (hours - 40) + 0.5 * (work == 1) + rng.normal(0, 0.6, n)
    surveyed = pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 365 * 2, n), unit="D")  # random order
    return pd.DataFrame({
        "age": age,
        "education": pd.Categorical.from_codes(edu, edu_levels),
        "workclass": pd.Categorical.from_codes(work, work_levels),
        "hours_per_week": hours,
        "surveyed_on": surveyed.astype("datetime64[us]"),
        "high_income": rng.random(n) < _sigmoid(z),  # bool target
    })  # fmt: skip


_SUBJECTS = {
    "billing": [
        "I was charged twice for my subscription this month",
        "Refund request for the last invoice please",
        "Why did my card payment fail at checkout today",
        "Invoice shows the wrong company address and tax",
    ],
    "technical": [
        "The app crashes when I upload a large photo file",
        "Cannot log in after resetting my password",
        "Sync between my phone and laptop stopped working",
        "Error 500 when I open the reports page",
    ],
    "account": [
        "Please change the email address on my account",
        "How do I add a second user to our team plan",
        "I want to close my account and delete my data",
        "Transfer ownership of the workspace to a colleague",
    ],
}
_TAILS = ["", " asap", " since yesterday", " again", " - urgent", " for the third time", " thanks in advance"]


def make_tickets(n: int, *, seed: int = 0, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    classes = np.array(list(_SUBJECTS))
    topic = classes[rng.choice(3, n, p=[0.4 - 0.2 * shift, 0.35 + 0.2 * shift, 0.25])]
    # a fifth of the subjects are from another topic: the text alone is not the answer
    shown = np.where(rng.random(n) < 0.2, classes[rng.integers(0, 3, n)], topic)
    subject = [
        f"{_SUBJECTS[t][rng.integers(0, 4)]}{_TAILS[rng.integers(0, len(_TAILS))]} (order {rng.integers(10**4, 10**5)})"
        for t in shown
    ]
    wait = rng.gamma(2.0, 15 + 20 * shift + 10 * (topic == "technical"), n).round(0)
    wait_text = wait.astype(int).astype(str).astype(object)
    bad = rng.random(n) < 0.02
    wait_text[bad] = rng.choice(np.array(["n/a", "?", "unknown"]), int(bad.sum()))
    channel = rng.choice(np.array(["email", "chat", "phone"]), n)
    opened = pd.Timestamp("2024-06-01") + pd.Timedelta(days=20 * seed) + pd.to_timedelta(np.arange(n) * 7, unit="min")
    return pd.DataFrame({
        "opened": opened.strftime("%Y-%m-%dT%H:%M:%S"),
        "subject": subject,
        "channel": channel,
        "wait_minutes": wait_text,
        "topic": pd.Categorical(topic, categories=classes),  # multiclass, a pandas category
    })  # fmt: skip


def make_housing(n: int, *, seed: int = 0, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    hoods = np.array(["Downtown", "Riverside", "Hillcrest", "Oakwood", "Lakeside", "Old Town"])
    hood = hoods[rng.integers(0, len(hoods), n)]
    area = rng.normal(110 + 30 * shift, 35, n).clip(25, 400).round(0)
    rooms = np.clip((area / 30).round() + rng.integers(-1, 2, n), 1, 12)
    age = rng.integers(0, 100, n)
    premium = pd.Series(hood).map({"Downtown": 1.6, "Riverside": 1.3, "Hillcrest": 1.2, "Oakwood": 1.0,
                                   "Lakeside": 1.4, "Old Town": 1.1}).to_numpy()  # fmt: skip
    price = (2_500 * area * premium - 600 * age + 8_000 * rooms) * (1 + 0.4 * shift) + rng.normal(0, 25_000, n)
    sold = pd.Timestamp("2022-01-01") + pd.Timedelta(days=90 * seed) + pd.to_timedelta(np.arange(n) * 3, unit="h")
    return pd.DataFrame({
        "sold_at": sold.astype("datetime64[us]"),
        "neighbourhood": hood,
        "heating": rng.choice(np.array(["gas", "electric", "heat pump"]), n),
        "area_m2": area,
        "rooms": rooms.astype(int),
        "building_age": age,
        "price": price.round(0),
    })  # fmt: skip


# -- scikit-learn's offline tables ----------------------------------------------------


def _sklearn(loader: str, target: str, *, as_labels: str | None = None) -> Maker:
    """Rows resampled from a bundled scikit-learn table; ``shift`` moves every feature by up to 1.5 std."""

    def make(n: int, *, seed: int = 0, shift: float = 0.0) -> pd.DataFrame:
        import sklearn.datasets

        bunch = getattr(sklearn.datasets, loader)(as_frame=True)
        frame = bunch.frame.rename(columns={"target": target})
        frame.columns = [str(c).replace(" ", "_").replace("(", "").replace(")", "").replace("/", "_")
                         for c in frame.columns]  # fmt: skip
        rng = np.random.default_rng(seed)
        rows = frame.iloc[rng.integers(0, len(frame), n)].reset_index(drop=True)
        features = [c for c in rows.columns if c != target]
        noise = rng.normal(0, 0.05, (n, len(features))) * rows[features].std().to_numpy()
        rows[features] = rows[features].to_numpy() + noise  # resampled rows are not exact duplicates
        for c in features:
            rows[c] = rows[c] + shift * 1.5 * frame[c].std()
        if as_labels == "string":
            rows[target] = np.asarray(bunch.target_names)[rows[target].astype(int)]
        elif as_labels == "category":
            rows[target] = pd.Categorical.from_codes(rows[target].astype(int), [str(t) for t in bunch.target_names])
        elif as_labels == "int":
            rows[target] = rows[target].astype(np.int64)
        return rows

    return make


_CORPUS = (
    Table("loans", "defaulted", "binary", "csv", make_loans, rows=1200, id="loan_id", time="issued_at",
          unseen={"purpose": "wedding"}, late_missing="amount"),
    Table("passengers", "survived", "binary", "csv;", make_passengers, rows=900, id="PassengerId", leak="boat",
          unseen={"embarked": "X"}),
    Table("census", "high_income", "binary", "parquet", make_census, rows=1000,
          unseen={"workclass": "Never-worked"}, late_missing="hours_per_week"),
    Table("tickets", "topic", "multiclass", "parquet", make_tickets, rows=1000, time="opened", dirty="wait_minutes",
          unseen={"channel": "fax"}),
    Table("housing", "price", "regression", "parquet", make_housing, rows=900, time="sold_at",
          unseen={"neighbourhood": "Airport"}, dictionary=("neighbourhood", "heating"),
          late_missing="area_m2"),
    Table("breast_cancer", "diagnosis", "binary", "csv",
          _sklearn("load_breast_cancer", "diagnosis", as_labels="string"), rows=700),
    Table("wine", "cultivar", "multiclass", "parquet", _sklearn("load_wine", "cultivar", as_labels="int"),
          rows=700),
    Table("diabetes", "progression", "regression", "csv", _sklearn("load_diabetes", "progression"), rows=700),
    Table("iris", "species", "multiclass", "csv", _sklearn("load_iris", "species", as_labels="string"),
          rows=600),
)  # fmt: skip
TABLES: dict[str, Table] = {t.name: t for t in _CORPUS}
