"""Keras -> ONNX, float32 and int8.

Route, and why: ``tf2onnx.convert.from_keras`` fails on Keras 3 models (``KeyError: 'keras_tensor_N'``), so the
model is wrapped in a ``tf.function`` with a (None, max_len) int32 signature and converted with ``from_function``.
tf2onnx then fuses the bidirectional LSTM into ONE ONNX ``LSTM`` node (no ``Loop``), keeps the batch dynamic, and
matches Keras to ~1e-6. int8 is ONNX Runtime's dynamic quantization: ``DynamicQuantizeLSTM`` + ``MatMulInteger``
with int8 weights. Static (QDQ) quantization would leave the LSTM in float, so it is not offered.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from edge_sentiment.converters.common import ConversionError, check_precision, embedding_rows
from edge_sentiment.runtime.atomic import atomic_write_bytes
from edge_sentiment.runtime.backends import ONNX_ROW_BY_ROW_KEY, ONNX_VOCAB_SIZE_KEY  # what the runtime reads

OPSET = 17
INPUT_NAME = "tokens"
OUTPUT_NAME = "probability"
SUPPORTED = ("float32", "int8")


def convert(model, out: str | Path, precision: str = "float32", calibration=None) -> Path:
    """Write ``model`` as ONNX to ``out``. ``calibration`` is unused: dynamic quantization needs no data."""
    check_precision("onnx", precision, SUPPORTED)
    out = Path(out)
    proto = _float_proto(model)
    if precision == "float32":
        return atomic_write_bytes(out, proto.SerializeToString())
    return atomic_write_bytes(out, _quantize_dynamic(proto))


def _float_proto(model):
    import onnx
    import tensorflow as tf
    import tf2onnx

    max_len = int(model.inputs[0].shape[1])
    spec = [tf.TensorSpec((None, max_len), tf.int32, name=INPUT_NAME)]
    fn = tf.function(lambda tokens: model(tokens, training=False))
    try:
        proto, _ = tf2onnx.convert.from_function(fn, input_signature=spec, opset=OPSET)
    except Exception as exc:
        raise ConversionError(f"tf2onnx failed on the model: {type(exc).__name__}: {exc}") from exc
    _rename_output(proto, OUTPUT_NAME)
    rows = embedding_rows(model)
    if rows is not None:  # lets the runtime refuse a tokenizer.json of another vocab size (two-file loading)
        entry = proto.metadata_props.add()
        entry.key, entry.value = ONNX_VOCAB_SIZE_KEY, str(rows)
    proto.doc_string = "edge-sentiment BiLSTM: int32 token ids (batch, max_len) -> P(positive) (batch, 1)"
    onnx.checker.check_model(proto)
    return proto


def _rename_output(proto, name: str) -> None:
    """tf2onnx names the output after the TF tensor (e.g. 'output_0'); give it a stable, meaningful name."""
    old = proto.graph.output[0].name
    for node in proto.graph.node:
        node.output[:] = [name if o == old else o for o in node.output]
        node.input[:] = [name if i == old else i for i in node.input]
    proto.graph.output[0].name = name


def _quantize_dynamic(proto) -> bytes:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "float.onnx", Path(tmp) / "int8.onnx"
        onnx.save(proto, src)
        try:
            quantize_dynamic(src, dst, weight_type=QuantType.QInt8)
        except Exception as exc:
            raise ConversionError(f"onnxruntime quantize_dynamic failed: {type(exc).__name__}: {exc}") from exc
        quantized = onnx.load(str(dst))
    # DynamicQuantizeLinear picks ONE activation scale for the whole batch, so a row's score would depend on its
    # batch-mates. This flag tells the runtime to feed such models one row at a time (see runtime/backends.py).
    entry = quantized.metadata_props.add()
    entry.key, entry.value = ONNX_ROW_BY_ROW_KEY, "true"
    return quantized.SerializeToString()


def describe(path: str | Path) -> dict:
    """Input/output names, shapes, dtypes and the op histogram of an ONNX file, for the manifest and the gate."""
    import onnx

    proto = onnx.load(str(path))

    def io(values):
        return [{"name": v.name,
                 "shape": [d.dim_param or d.dim_value or None for d in v.type.tensor_type.shape.dim],
                 "dtype": onnx.helper.tensor_dtype_to_np_dtype(v.type.tensor_type.elem_type).name} for v in values]

    ops: dict[str, int] = {}
    for node in proto.graph.node:
        ops[node.op_type] = ops.get(node.op_type, 0) + 1
    lstm_directions = [a.s.decode() for n in proto.graph.node if n.op_type in ("LSTM", "DynamicQuantizeLSTM")
                       for a in n.attribute if a.name == "direction"]
    return {"inputs": io(proto.graph.input), "outputs": io(proto.graph.output), "ops": ops,
            "lstm_directions": lstm_directions, "opset": OPSET}
