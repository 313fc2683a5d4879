"""What every converter shares: loading a model directory, the precisions, and the typed conversion error."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from edge_sentiment.runtime.errors import BundleError, EdgeSentimentError
from edge_sentiment.runtime.tokenizer import Tokenizer

PRECISIONS = ("float32", "int8", "int8-full")
FORMATS = ("tflite", "onnx")


class ConversionError(EdgeSentimentError):
    """A converter could not produce a file; the message names the format, precision and cause."""


@dataclass
class SourceModel:
    """A trained model directory as written by ``edge-sentiment train``."""

    root: Path
    model: object  # keras.Model
    tokenizer: Tokenizer
    metrics: dict
    config: dict


def load_model_dir(root: str | Path) -> SourceModel:
    """Load and cross-check a model directory: the tokenizer must fit the model's input length and vocab size."""
    from edge_sentiment.toolkit.train import CONFIG_FILE, METRICS_FILE, MODEL_FILE, TOKENIZER_FILE

    root = Path(root)
    if not (root / MODEL_FILE).is_file():
        raise BundleError(f"{root} is not a model directory: {MODEL_FILE} is missing; "
                          "create one with `edge-sentiment train --out DIR`")
    tokenizer = Tokenizer.load(root / TOKENIZER_FILE)
    import keras

    try:
        model = keras.models.load_model(root / MODEL_FILE, compile=False)
    except Exception as exc:
        raise BundleError(f"{root / MODEL_FILE} cannot be loaded by Keras ({type(exc).__name__}: "
                          f"{str(exc)[:200]}); the file is corrupt, re-run `edge-sentiment train`") from exc
    check_tokenizer_fits(model, tokenizer, root)
    return SourceModel(root, model, tokenizer, _json_or_empty(root / METRICS_FILE), _json_or_empty(root / CONFIG_FILE))


def embedding_rows(model) -> int | None:
    """Rows of the model's embedding table: the vocab size its tokenizer must have."""
    return next((int(layer.input_dim) for layer in model.layers if hasattr(layer, "input_dim")), None)


def check_tokenizer_fits(model, tokenizer: Tokenizer, where: Path) -> None:
    shape = tuple(model.inputs[0].shape)
    if len(shape) != 2 or shape[1] != tokenizer.config.max_len:
        raise BundleError(f"{where}: the model takes inputs of shape {shape} but the tokenizer pads to "
                          f"max_len={tokenizer.config.max_len}; they were not trained together")
    rows = embedding_rows(model)
    if rows is not None and rows != tokenizer.config.vocab_size:
        raise BundleError(f"{where}: the model's embedding has {rows} rows but the tokenizer's vocab_size is "
                          f"{tokenizer.config.vocab_size}; the tokenizer does not belong to this model")


def _json_or_empty(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def check_precision(fmt: str, precision: str, supported: tuple[str, ...]) -> None:
    if precision not in supported:
        raise ConversionError(f"{fmt} does not support precision {precision!r}; choose one of {', '.join(supported)}")
