"""Training writes an honest model directory; convert writes four real artifacts that pass the real gate."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edge_sentiment.converters.bundle_writer import convert_model_dir, verify_bundle
from edge_sentiment.converters.common import ConversionError
from edge_sentiment.converters.verify import ParityError, Thresholds
from edge_sentiment.runtime.bundle import Bundle, sha256_file
from edge_sentiment.runtime.errors import BundleError

pytestmark = pytest.mark.slow


def test_model_dir_has_everything_convert_needs(tiny_model_dir):
    names = {p.name for p in tiny_model_dir.iterdir()}
    assert {"model.keras", "tokenizer.json", "config.json", "metrics.json", "training_curves.png"} <= names
    metrics = json.loads((tiny_model_dir / "metrics.json").read_text())
    assert metrics["data"]["test"] == 1000 and metrics["data"]["train"] == 4000
    assert 0.6 < metrics["test_accuracy"] <= 1.0  # a real signal after 2 tiny epochs, measured on test only
    assert metrics["device"].startswith(("CPU", "GPU")) and metrics["versions"]["tensorflow"]
    assert 1 <= metrics["best_epoch"] <= metrics["epochs_run"] == len(metrics["history"]["val_loss"])
    assert (tiny_model_dir / "training_curves.png").read_bytes()[:4] == b"\x89PNG"


def test_bundle_holds_four_verified_artifacts(tiny_bundle):
    bundle = Bundle(tiny_bundle)
    assert bundle.manifest["verified"] is True
    assert {a.key for a in bundle.artifacts} == {"tflite/float32", "tflite/int8", "onnx/float32", "onnx/int8"}
    for a in bundle.artifacts:
        assert a.verified and a.sha256 == sha256_file(tiny_bundle / a.file)
        assert a.bytes == (tiny_bundle / a.file).stat().st_size
        parity = a.entry["parity"]
        assert parity["n"] == 1000 and parity["passed"]
        if a.precision == "float32":
            assert parity["max_abs_diff"] <= 1e-5
        else:
            assert parity["agreement"] >= 0.995 and parity["keras_accuracy"] - parity["accuracy"] <= 0.005
            assert parity["structure"]["size_ratio_vs_float32"] <= 0.30
        assert a.entry["inputs"][0]["dtype"] == "int32" and a.entry["inputs"][0]["shape"][1] == 64
    manifest = bundle.manifest
    assert manifest["tokenizer"]["config"]["max_len"] == 64 and manifest["training"]["test_accuracy"]
    assert {"tensorflow", "tf2onnx", "onnxruntime", "ai-edge-litert"} <= set(manifest["versions"])


def test_graph_structure(tiny_bundle):
    bundle = Bundle(tiny_bundle)
    onnx_f = bundle.find("onnx", "float32").entry["parity"]["structure"]["ops"]
    onnx_q = bundle.find("onnx", "int8").entry["parity"]["structure"]["ops"]
    assert onnx_f.get("LSTM") == 1 and "Loop" not in onnx_f
    assert onnx_q.get("DynamicQuantizeLSTM") == 1 and "MatMulInteger" in onnx_q and "Loop" not in onnx_q
    for precision in ("float32", "int8"):
        structure = bundle.find("tflite", precision).entry["parity"]["structure"]
        assert structure["builtin_only"] and "WHILE" in structure["ops"]
        assert not any(op.startswith("Flex") for op in structure["ops"])


def test_verify_refuses_a_corrupted_artifact(bundle_copy):
    path = bundle_copy / "model_int8.onnx"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(BundleError, match="model_int8.onnx is corrupt: sha256"):
        verify_bundle(bundle_copy, limit=50, progress=lambda _: None)


def test_gate_fails_loudly_and_leaves_the_old_bundle(tiny_model_dir, bundle_copy):
    before = (bundle_copy / "manifest.json").read_bytes()
    impossible = Thresholds(float_max_abs_diff=0.0, int8_min_agreement=1.01)
    with pytest.raises(ParityError, match=r"onnx/int8: label agreement .* < 101.0%"):
        convert_model_dir(tiny_model_dir, bundle_copy, formats=("onnx",), thresholds=impossible, limit=100,
                          force=True, progress=lambda _: None)
    assert (bundle_copy / "manifest.json").read_bytes() == before
    rejected = json.loads((bundle_copy.with_name("bundle.unverified") / "manifest.json").read_text())
    assert rejected["verified"] is False and not any(a["verified"] for a in rejected["artifacts"])


def test_convert_refuses_bad_requests(tiny_model_dir, tiny_bundle, tmp_path):
    with pytest.raises(FileExistsError, match="--force"):
        convert_model_dir(tiny_model_dir, tiny_bundle)
    with pytest.raises(ConversionError, match="unknown precision 'int4'"):
        convert_model_dir(tiny_model_dir, tmp_path / "b", precisions=("int4",))
    with pytest.raises(ConversionError, match="unknown format 'coreml'"):
        convert_model_dir(tiny_model_dir, tmp_path / "b", formats=("coreml",))
    with pytest.raises(BundleError, match="model.keras is missing"):
        convert_model_dir(tmp_path, tmp_path / "b")
    with pytest.raises(ConversionError, match="nothing to convert"):
        convert_model_dir(tiny_model_dir, tmp_path / "b", formats=())
    with pytest.raises(ConversionError, match="int8-full is supported only by tflite"):
        convert_model_dir(tiny_model_dir, tmp_path / "b", formats=("onnx",), precisions=("int8-full",),
                          progress=lambda _: None)
    assert not (tmp_path / "b").exists()


def test_tokenizer_that_does_not_match_the_model_is_refused(tiny_model_dir, tmp_path):
    import shutil

    from edge_sentiment.runtime.tokenizer import Tokenizer, TokenizerConfig

    bad = Path(shutil.copytree(tiny_model_dir, tmp_path / "model"))
    Tokenizer.fit(["a b c"], TokenizerConfig(vocab_size=500, max_len=64)).save(bad / "tokenizer.json")
    with pytest.raises(BundleError, match="embedding has 3000 rows but the tokenizer's vocab_size is 500"):
        convert_model_dir(bad, tmp_path / "b", progress=lambda _: None)


def test_killed_convert_leaves_no_half_bundle(tiny_model_dir, tmp_path):
    """SIGKILL a real convert once it has started writing: the target never appears half-written."""
    out = tmp_path / "bundle"
    code = ("import sys; from edge_sentiment.converters.bundle_writer import convert_model_dir; "
            f"convert_model_dir({str(tiny_model_dir)!r}, {str(out)!r}, progress=lambda m: print(m, flush=True))")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    for line in proc.stdout:  # wait until artifacts are being written into the partial directory
        if line.startswith("verify  tflite/float32"):
            break
    time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert not out.exists()
    partial = list(tmp_path.glob(".bundle.partial-*"))
    assert partial and any(p.name.endswith(".tflite") for p in partial[0].iterdir())  # it was killed mid-way
    with pytest.raises(BundleError, match="not a bundle|does not exist"):
        Bundle(out)


def test_structure_check_catches_flex_ops(tiny_model_dir, tmp_path):
    """The route the converter refuses: the dynamic-batch model with SELECT_TF_OPS needs Flex kernels."""
    import keras
    import tensorflow as tf

    from edge_sentiment.converters.verify import check_structure

    model = keras.models.load_model(tiny_model_dir / "model.keras", compile=False)
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS, tf.lite.OpsSet.SELECT_TF_OPS]
    path = tmp_path / "flex.tflite"
    path.write_bytes(converter.convert())
    failures: list[str] = []
    structure = check_structure(path, "tflite", failures)
    assert not structure["builtin_only"]
    assert failures and "Flex" in failures[0]


@pytest.mark.parametrize("poison", [0.5, float("nan")])
def test_gate_catches_a_wrong_model_with_a_valid_checksum(bundle_copy, poison):
    """A float32 ONNX whose output bias was changed (shifted, or NaN) and re-hashed into the manifest: the checksum
    passes, the gate must not."""
    import numpy as np
    import onnx
    from onnx import numpy_helper

    path = bundle_copy / "model_float32.onnx"
    proto = onnx.load(str(path))
    bias = next(t for t in proto.graph.initializer  # the sigmoid layer's bias: the one float of shape [1]
                if list(t.dims) == [1] and t.data_type == onnx.TensorProto.FLOAT)
    bias.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(bias) + np.float32(poison), bias.name))
    path.write_bytes(proto.SerializeToString())
    manifest = json.loads((bundle_copy / "manifest.json").read_text())
    entry = next(a for a in manifest["artifacts"] if a["file"] == path.name)
    entry["sha256"], entry["bytes"] = sha256_file(path), path.stat().st_size
    (bundle_copy / "manifest.json").write_text(json.dumps(manifest))
    results = verify_bundle(bundle_copy, limit=200, progress=lambda _: None)
    bad = next(r for r in results if r.file == path.name)
    assert not bad.passed and "max |dp|" in " ".join(bad.failures)
    assert all(r.passed for r in results if r.file != path.name)


def test_verify_refuses_an_empty_bundle(bundle_copy):
    manifest = json.loads((bundle_copy / "manifest.json").read_text())
    manifest["artifacts"] = []
    (bundle_copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="lists no artifacts"):
        verify_bundle(bundle_copy, limit=50, progress=lambda _: None)
