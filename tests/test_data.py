"""Dataset sources and the honest split: deterministic, stratified, duplicate-free, test never used for selection."""

from __future__ import annotations

import io
import json
import tarfile

import pytest

from edge_sentiment.toolkit.data import DataError, load_splits, read_aclimdb, read_bundled, read_file


def test_bundled_is_the_real_imdb_train_split():
    rows = read_bundled()
    assert len(rows) == 25_000
    assert sum(label for _, label in rows) == 12_500
    assert any("<br />" in text for text, _ in rows[:200])


def test_default_split_is_disjoint_stratified_and_deterministic():
    a, b = load_splits(), load_splits()
    assert a.sizes() == {"train": 24_904 - 7_000, "val": 2_000, "test": 5_000}
    assert a.test == b.test and a.train == b.train
    train, val, test = ({t for t, _ in s} for s in (a.train, a.val, a.test))
    assert not (train & test) and not (train & val) and not (val & test)
    assert abs(sum(y for _, y in a.test) - 2_500) <= 10  # proportional to the (deduplicated) class sizes
    assert "re-split" in a.source and a.spec["test_size"] == 5_000
    assert load_splits(seed=1).test != a.test
    for part in (a.test[:200], a.val[:200]):  # prefixes (--limit, benchmark samples) hold both classes
        assert 60 < sum(y for _, y in part) < 140


def test_limit_only_shrinks_train(tiny_splits):
    assert tiny_splits.sizes() == {"train": 4_000, "val": 500, "test": 1_000}
    assert abs(sum(y for _, y in tiny_splits.train) - 2_000) <= 10


def test_csv_and_jsonl_files(tmp_path):
    csv_path = tmp_path / "d.csv"
    csv_path.write_text('\ufefftext,label\n"Great, fun film",pos\nDull,0\n', encoding="utf-8")  # with a BOM
    assert read_file(csv_path) == [("Great, fun film", 1), ("Dull", 0)]
    jsonl = tmp_path / "d.jsonl"
    jsonl.write_text(json.dumps({"text": "Loved it", "label": "positive"}) + "\n\n"
                     + json.dumps({"text": "Hated it", "label": 0}) + "\n", encoding="utf-8")
    assert read_file(jsonl) == [("Loved it", 1), ("Hated it", 0)]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [("a.csv", "review,label\nx,1\n", "needs a header"),
     ("b.csv", "text,label\nok,1\nbad,maybe\n", "b.csv row 3: label 'maybe'"),
     ("c.csv", "text,label\n", "no examples"),
     ("d.jsonl", '{"text": "ok", "label": 1}\n{oops\n', "d.jsonl line 2: invalid JSON"),
     ("e.jsonl", '{"text": "", "label": 1}\n', "e.jsonl line 1: 'text' is empty"),
     ("f.csv", b"text,label\n\xff\xfe,1\n", "not UTF-8")],
)
def test_bad_files_name_the_file_and_row(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(DataError, match=message.replace("(", r"\(")):
        read_file(path)


def test_unreadable_path_and_unknown_source(tmp_path):
    with pytest.raises(DataError, match="cannot read"):
        read_file(tmp_path / "missing.csv")
    with pytest.raises(DataError, match="unknown data source"):
        load_splits("kaggle")


def _acl_members(reviews):
    for i, (text, label) in enumerate(reviews):
        for split in ("train", "test"):
            yield f"aclImdb/{split}/{'pos' if label else 'neg'}/{i}_7.txt", text.encode()


def test_aclimdb_folder_and_tarball_read_without_extracting(tmp_path):
    reviews = read_bundled()[:20] + read_bundled()[-20:]
    for name, data in _acl_members(reviews):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)
    train, test = read_aclimdb(tmp_path / "aclImdb")
    assert sorted(train) == sorted(reviews) and len(test) == 40

    tar_path = tmp_path / "aclImdb_v1.tar.gz"
    with tarfile.open(tar_path, "w:gz") as tar:
        for name, data in [*_acl_members(reviews), ("../../evil/train/pos/x.txt", b"escape")]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    train2, test2 = read_aclimdb(tar_path)
    assert sorted(train2) == sorted(reviews) and sorted(test2) == sorted(test)  # the hostile member is skipped


def test_tfds_source_decodes_utf8_without_network(monkeypatch):
    """The seed did str(bytes) and got "b'...'" texts; here bytes are decoded. tfds.load is mocked (no network)."""
    tfds = pytest.importorskip("tensorflow_datasets")
    import tensorflow as tf

    rows = read_bundled()
    parts = {"train": rows[:30] + rows[-30:], "test": rows[100:110] + rows[-110:-100] + rows[:2]}

    def fake_load(name, split, as_supervised, data_dir=None):
        assert name == "imdb_reviews" and as_supervised
        return [tf.data.Dataset.from_tensor_slices(([t.encode("utf-8") for t, _ in parts[s]], [y for _, y in parts[s]]))
                for s in split]

    monkeypatch.setattr(tfds, "load", fake_load)
    splits = load_splits("tfds", val_size=10)
    assert splits.sizes() == {"train": 48, "val": 10, "test": 22}  # 2 train texts also in test were dropped
    assert sorted(splits.test) == sorted(parts["test"])
    assert not {t for t, _ in splits.train + splits.val} & {t for t, _ in splits.test}
    assert not any(t.startswith("b'") for t, _ in splits.train)
