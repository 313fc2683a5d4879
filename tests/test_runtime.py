"""The TensorFlow-free runtime: parity from text, thread safety, bad input and damaged bundles."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from edge_sentiment.runtime import BundleError, InputError, InputTypeError, SentimentClassifier
from edge_sentiment.runtime.bundle import Bundle

pytestmark = pytest.mark.slow
ARTIFACTS = [("onnx", "float32"), ("onnx", "int8"), ("tflite", "float32"), ("tflite", "int8")]


@pytest.fixture(scope="module")
def keras_reference(tiny_bundle, tiny_splits):
    """Keras P(positive) on 400 held-out reviews, through the same tokenizer the runtime uses."""
    import keras

    texts = [t for t, _ in tiny_splits.test[:400]]
    labels = np.array([y for _, y in tiny_splits.test[:400]])
    assert 100 < labels.sum() < 300  # both classes, or the accuracy checks below would only measure one
    model = keras.models.load_model(tiny_bundle / "model.keras", compile=False)
    ids = Bundle(tiny_bundle).tokenizer().encode_batch(texts)
    return texts, labels, model.predict(ids, verbose=0).reshape(-1)


@pytest.mark.parametrize(("backend", "precision"), ARTIFACTS)
def test_text_to_probability_parity_with_keras(tiny_bundle, keras_reference, backend, precision):
    texts, labels, reference = keras_reference
    clf = SentimentClassifier.load(tiny_bundle, backend, precision)
    preds = clf.predict_batch(texts, batch_size=64)
    probs = np.array([p.positive_probability for p in preds])
    if precision == "float32":
        assert np.max(np.abs(probs - reference)) <= 1e-5
    else:
        assert np.mean((probs >= 0.5) == (reference >= 0.5)) >= 0.995
        assert np.mean((reference >= 0.5) == labels) - np.mean((probs >= 0.5) == labels) <= 0.005
    assert [p.label for p in preds] == ["positive" if p >= 0.5 else "negative" for p in probs]
    single = clf.predict(texts[3])
    # Batch-independent for every artifact, ONNX dynamic int8 included (fed row by row, see runtime/backends.py).
    assert single.positive_probability == pytest.approx(probs[3], abs=1e-6)
    assert single.score == pytest.approx(max(single.positive_probability, 1 - single.positive_probability))


def test_runtime_never_imports_tensorflow(tiny_bundle):
    code = f"""
import sys, json
from edge_sentiment.runtime import SentimentClassifier
out = {{}}
for backend in ("onnx", "tflite"):
    p = SentimentClassifier.load({str(tiny_bundle)!r}, backend, "int8").predict("A wonderful, moving film.")
    out[backend] = p.label
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras", "tf2onnx", "tf_keras"))
print(json.dumps({{"labels": out, "heavy": heavy}}))
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["heavy"] == []
    assert set(report["labels"].values()) <= {"positive", "negative"}


def test_threads_give_the_same_answers_as_serial_calls(tiny_bundle, keras_reference):
    texts = keras_reference[0][:120]
    for backend in ("onnx", "tflite"):
        clf = SentimentClassifier.load(tiny_bundle, backend, "int8")
        serial = [clf.predict(t) for t in texts]
        with ThreadPoolExecutor(8) as pool:
            parallel = list(pool.map(clf.predict, texts * 3))
        assert parallel == serial * 3


def test_workers_split_batches_without_changing_answers(tiny_bundle, keras_reference):
    texts = keras_reference[0][:300]
    one = SentimentClassifier.load(tiny_bundle, "onnx", "int8").predict_batch(texts, batch_size=128)
    with SentimentClassifier.load(tiny_bundle, "onnx", "int8", workers=2) as two:
        assert two.workers == 2 and two.predict_batch(texts, batch_size=128) == one
    assert SentimentClassifier.load(tiny_bundle, "tflite", "int8", workers=2).workers == 1  # LiteRT takes turns


def test_two_file_loading(tiny_bundle):
    onnx = SentimentClassifier.from_files(tiny_bundle / "model_int8.onnx", tiny_bundle / "tokenizer.json")
    tfl = SentimentClassifier.from_files(tiny_bundle / "model_float32.tflite", tiny_bundle / "tokenizer.json")
    text = "I would not recommend this movie to anyone."
    assert onnx.predict(text) == SentimentClassifier.load(tiny_bundle, "onnx", "int8").predict(text)
    assert tfl.predict(text) == SentimentClassifier.load(tiny_bundle, "tflite", "float32").predict(text)


@pytest.mark.parametrize(
    ("item", "error", "message"),
    [(None, InputTypeError, "must be a str, got NoneType"), (3.5, InputTypeError, "got float"),
     (b"\xff\xfe", InputTypeError, "bytes, not str"), ("", InputError, "empty"), (" \t\n ", InputError, "empty"),
     ("x" * 10_000_001, InputError, "above the 10,000,000 limit"), ("!!!???", InputError, "has no words"),
     ("- -", InputError, "has no words")],
)
def test_bad_items_are_named_and_never_shift_the_batch(tiny_bundle, item, error, message):
    clf = SentimentClassifier.load(tiny_bundle)
    with pytest.raises(error, match=message) as info:
        clf.predict_batch(["good film", item, "bad film"])
    assert info.value.index == 1
    with pytest.raises(error):
        clf.predict(item)


@pytest.mark.parametrize(
    "text",
    ["😀😀😀 🎬🍿", "هذا الفيلم رائع جدا", "סרט נפלא", "\x00\x07\x1b[31mred\x1b[0m", "a", "?!good!?",
     "great " * 1_600_000],  # ~10 MB
)
def test_odd_but_valid_texts_get_a_prediction(tiny_bundle, text):
    clf = SentimentClassifier.load(tiny_bundle)
    p = clf.predict(text)
    assert p.label in ("positive", "negative") and 0.5 <= p.score <= 1.0
    assert clf.predict_batch(["fine", text])[1] == p


@pytest.mark.parametrize(("backend", "precision"), ARTIFACTS)
def test_seed_examples_get_the_right_label(tiny_bundle, backend, precision):
    """The seed notebook's misspelled negative review, and a plainly positive one, on every artifact. (The seed's
    subtler "animation and graphics were out of this world" is too hard for the tiny 2-epoch model; the README
    shows the default model calling it positive.)"""
    clf = SentimentClassifier.load(tiny_bundle, backend, precision)
    assert clf.predict("The movei was terrible. I would not recommend the movie").label == "negative"
    assert clf.predict("A wonderful, excellent film. I loved it: brilliant acting and a beautiful story").label \
        == "positive"


def _damage(bundle, how):
    manifest = json.loads((bundle / "manifest.json").read_text())
    if how == "missing model":
        (bundle / "model_int8.onnx").unlink()
    elif how == "truncated model":
        data = (bundle / "model_int8.onnx").read_bytes()
        (bundle / "model_int8.onnx").write_bytes(data[: len(data) // 3])
    elif how == "missing manifest":
        (bundle / "manifest.json").unlink()
    elif how == "garbage manifest":
        (bundle / "manifest.json").write_bytes(b"\x00\x01 not json")
    elif how == "future schema":
        manifest["schema_version"] = 99
        (bundle / "manifest.json").write_text(json.dumps(manifest))
    elif how == "edited tokenizer":
        (bundle / "tokenizer.json").write_text((bundle / "tokenizer.json").read_text().replace('"the"', '"teh"'))
    elif how == "tokenizer config mismatch":
        manifest["tokenizer"]["config"]["max_len"] = 99
        (bundle / "manifest.json").write_text(json.dumps(manifest))
    elif how == "unverified artifact":
        for a in manifest["artifacts"]:
            a["verified"] = False
        (bundle / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize(
    ("how", "message"),
    [("missing model", "model_int8.onnx is missing"), ("truncated model", "model_int8.onnx is corrupt: sha256"),
     ("missing manifest", "manifest.json is missing"), ("garbage manifest", "not valid JSON"),
     ("future schema", "schema_version 99"), ("edited tokenizer", "tokenizer.json is corrupt: sha256"),
     ("tokenizer config mismatch", r"differs from the manifest's in \['max_len'\]"),
     ("unverified artifact", "did not pass the parity gate")],
)
def test_damaged_bundles_are_refused(bundle_copy, how, message):
    _damage(bundle_copy, how)
    with pytest.raises(BundleError, match=message):
        SentimentClassifier.load(bundle_copy, "onnx", "int8")


@pytest.mark.parametrize("threads", [0, -1, 10_000, "2"])
def test_bad_thread_counts_are_refused(tiny_bundle, threads):
    with pytest.raises(ValueError, match="threads must be an int"):
        SentimentClassifier.load(tiny_bundle, threads=threads)


@pytest.mark.parametrize("batch_size", [0, -1, 2.5])
def test_bad_batch_size_is_refused(tiny_bundle, batch_size):
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        SentimentClassifier.load(tiny_bundle).predict_batch(["good film", "bad film"], batch_size=batch_size)


def test_unverified_artifact_can_be_forced(bundle_copy):
    _damage(bundle_copy, "unverified artifact")
    assert SentimentClassifier.load(bundle_copy, allow_unverified=True).predict("ok film").label


def test_mismatched_two_file_pair_is_refused(tiny_bundle, tmp_path):
    from edge_sentiment.runtime.tokenizer import Tokenizer, TokenizerConfig

    Tokenizer.fit(["a b"], TokenizerConfig(vocab_size=3000, max_len=80)).save(tmp_path / "tokenizer.json")
    with pytest.raises(BundleError, match="expects 64 ids per text but the tokenizer pads to 80"):
        SentimentClassifier.from_files(tiny_bundle / "model_int8.onnx", tmp_path / "tokenizer.json")
    Tokenizer.fit(["a b"], TokenizerConfig(vocab_size=5000, max_len=64)).save(tmp_path / "big.json")
    for model in ("model_int8.onnx", "model_float32.onnx", "model_int8.tflite", "model_float32.tflite"):
        with pytest.raises(BundleError, match="3000 embedding rows but the tokenizer's vocab_size is 5000"):
            SentimentClassifier.from_files(tiny_bundle / model, tmp_path / "big.json")
    (tmp_path / "junk.onnx").write_bytes(b"\x08\x07garbage")
    with pytest.raises(BundleError, match="ONNX Runtime cannot load"):
        SentimentClassifier.from_files(tmp_path / "junk.onnx", tiny_bundle / "tokenizer.json")
    (tmp_path / "junk.tflite").write_bytes(b"TFL3" * 10)
    with pytest.raises(BundleError, match="LiteRT cannot load"):
        SentimentClassifier.from_files(tmp_path / "junk.tflite", tiny_bundle / "tokenizer.json")


def test_static_batch_onnx_is_fed_in_padded_chunks(tiny_bundle, keras_reference, tmp_path):
    """An ONNX exported with a fixed batch of 4 (not what convert writes, but what a user may bring)."""
    import keras
    import tensorflow as tf
    import tf2onnx

    model = keras.models.load_model(tiny_bundle / "model.keras", compile=False)
    spec = [tf.TensorSpec((4, 64), tf.int32, name="tokens")]
    proto, _ = tf2onnx.convert.from_function(tf.function(lambda t: model(t, training=False)), input_signature=spec,
                                             opset=17)
    (tmp_path / "static.onnx").write_bytes(proto.SerializeToString())
    clf = SentimentClassifier.from_files(tmp_path / "static.onnx", tiny_bundle / "tokenizer.json")
    assert clf.backend.fixed_batch == 4
    texts, _, reference = keras_reference
    probs = clf.probabilities(texts[:10])  # 4 + 4 + 2 (padded to 4)
    assert np.max(np.abs(probs - reference[:10])) <= 1e-5
