"""Keras -> TFLite: float32, dynamic-range int8, and an attempt at full-integer int8.

Route, and why:
- ``TFLiteConverter.from_keras_model`` on the trained (dynamic-batch) model fails with ``'tf.TensorListReserve' op
  requires element_shape to be static``. The trained layers are therefore re-wired onto a
  ``keras.Input(batch_size=1)`` twin (same weights, no copy) and that twin is converted: builtin ops only
  (``WHILE``, ``FULLY_CONNECTED``, ``GATHER``, ...) and exact against Keras.
- The legacy-Keras route gives the fused ``UNIDIRECTIONAL_SEQUENCE_LSTM`` op, whose float output disagreed with
  Keras by up to 0.28 on long reviews (shared/FINDINGS.md), so it is deliberately not used.
- ``int8`` is dynamic-range quantization (int8 weights, float activations), builtin ops only.
- ``int8-full`` (int8 activations, for integer-only accelerators) calibrates on the WHILE graph segfault, so it
  rebuilds the twin with ``LSTM(unroll=True)`` and calibrates on *train* ids. It is written even where it misses
  the parity gate; the gate, not this module, decides whether it is verified.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np

from edge_sentiment.converters.common import ConversionError, check_precision
from edge_sentiment.runtime.atomic import atomic_write_bytes

SUPPORTED = ("float32", "int8", "int8-full")
CALIBRATION_SAMPLES = 300


def convert(model, out: str | Path, precision: str = "float32", calibration: np.ndarray | None = None) -> Path:
    """Write ``model`` as TFLite to ``out``. ``calibration``: int32 ids from the train split, for ``int8-full``."""
    import tensorflow as tf

    check_precision("tflite", precision, SUPPORTED)
    static = static_batch_twin(model, unroll=precision == "int8-full")
    converter = tf.lite.TFLiteConverter.from_keras_model(static)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]  # never Flex / SELECT_TF_OPS
    if precision == "int8":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    elif precision == "int8-full":
        if calibration is None or len(calibration) == 0:
            raise ConversionError("tflite int8-full needs calibration ids from the train split")
        rows = np.asarray(calibration[:CALIBRATION_SAMPLES], dtype=np.int32)
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([row[None, :]] for row in rows)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8, tf.lite.OpsSet.TFLITE_BUILTINS]
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # Keras' export prints a page of "Saved artifact" details
            flatbuffer = converter.convert()
    except Exception as exc:
        raise ConversionError(f"TFLite {precision} conversion failed: {type(exc).__name__}: {exc}") from exc
    return atomic_write_bytes(Path(out), flatbuffer)


def static_batch_twin(model, unroll: bool = False):
    """The same layers (and weights) on a batch-1 input; with ``unroll`` the LSTMs are rebuilt unrolled."""
    import keras

    max_len = int(model.inputs[0].shape[1])
    tokens = keras.Input((max_len,), batch_size=1, dtype="int32", name="tokens")
    x = tokens
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        x = _unrolled(layer)(x) if unroll and isinstance(layer, keras.layers.Bidirectional) else layer(x)
    return keras.Model(tokens, x, name=f"{model.name}_batch1")


def _unrolled(bidi):
    """A copy of a Bidirectional LSTM layer with ``unroll=True``, carrying the trained weights."""
    import keras

    config = bidi.get_config()
    for key in ("layer", "backward_layer"):
        if key in config and config[key]:
            config[key]["config"]["unroll"] = True
    clone = keras.layers.Bidirectional.from_config(config)
    clone.build(bidi.input.shape if hasattr(bidi, "input") else None)
    clone.set_weights(bidi.get_weights())
    return clone


def describe(path: str | Path) -> dict:
    """Input/output details and the op histogram of a TFLite file, over ALL subgraphs (the WHILE bodies too).

    Ops are read from the flatbuffer itself: the interpreter's op list shows only the main subgraph, after XNNPACK
    has swallowed some ops, so it would hide a Flex op inside a loop body. Custom/Flex ops appear by their name.
    """
    from tensorflow.lite.python import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(Path(path).read_bytes(), 0)
    main = model.subgraphs[0]
    dtypes = {v: k.lower() for k, v in vars(schema.TensorType).items() if not k.startswith("_")}

    def io(indices):
        return [{"name": main.tensors[i].name.decode(), "shape": [int(s) for s in main.tensors[i].shape],
                 "dtype": dtypes.get(main.tensors[i].type, "?")} for i in indices]

    builtin = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    names = [c.customCode.decode() if c.customCode else builtin.get(max(c.builtinCode, c.deprecatedBuiltinCode), "?")
             for c in model.operatorCodes]
    ops: dict[str, int] = {}
    for graph in model.subgraphs:
        for op in graph.operators:
            ops[names[op.opcodeIndex]] = ops.get(names[op.opcodeIndex], 0) + 1
    return {"inputs": io(main.inputs), "outputs": io(main.outputs), "ops": ops, "subgraphs": len(model.subgraphs)}
