"""Fit the BiLSTM: early stopping on val with the best weights restored; test is evaluated once, at the end.

The model directory it writes is what ``convert`` reads: ``model.keras``, ``tokenizer.json``, ``config.json``,
``metrics.json`` and ``training_curves.png``. It is written atomically.
"""

from __future__ import annotations

import json
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from edge_sentiment.runtime.atomic import atomic_directory, atomic_write_text, ensure_writable
from edge_sentiment.runtime.tokenizer import Tokenizer, TokenizerConfig
from edge_sentiment.toolkit.data import Splits
from edge_sentiment.toolkit.model import ModelConfig, build_model

MODEL_FILE = "model.keras"
TOKENIZER_FILE = "tokenizer.json"
CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.json"
CURVES_FILE = "training_curves.png"


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 10  # an upper bound: early stopping on val usually ends sooner
    batch_size: int = 128
    learning_rate: float = 2e-3  # Adam
    patience: int = 2  # epochs without improvement of ``monitor`` before stopping (best weights are restored)
    monitor: str = "val_accuracy"  # or "val_loss"; always a validation figure, never test
    seed: int = 42  # python, numpy and TF seeds; TF op determinism is switched on too
    deterministic: bool = True  # TF op determinism; turn off if a GPU op lacks a deterministic kernel
    verbose: int = 2  # Keras fit verbosity: 1 = progress bar per step, 2 = one line per epoch


def seed_everything(seed: int, deterministic: bool = True) -> None:
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)  # python, numpy and TF
    if not deterministic:
        return
    try:
        tf.config.experimental.enable_op_determinism()
    except Exception:  # already on, or not supported by this build: results stay seeded, just not bit-exact on GPU
        pass


def training_device() -> str:
    """'GPU (name)' when TensorFlow sees one (Keras then takes the cuDNN LSTM kernel), else 'CPU (model)'."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        return f"GPU ({details.get('device_name', gpus[0].name)})"
    return f"CPU ({cpu_name()})"


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def train(
    splits: Splits,
    out_dir: str | Path,
    tokenizer_config: TokenizerConfig | None = None,
    model_config: ModelConfig | None = None,
    train_config: TrainConfig | None = None,
    force: bool = False,
) -> dict:
    """Fit on ``splits.train``, stop on ``splits.val``, report ``splits.test``; write the model directory."""
    ensure_writable(Path(out_dir), force)  # before importing TensorFlow and minutes of training, not after
    if not splits.train or not splits.val or not splits.test:
        raise ValueError(f"the data gave {splits.sizes()} examples: every split needs at least one; use more data")
    import keras
    import tensorflow as tf

    tcfg = train_config or TrainConfig()
    seed_everything(tcfg.seed, tcfg.deterministic)
    tok_cfg = tokenizer_config or TokenizerConfig()
    tokenizer = Tokenizer.fit((t for t, _ in splits.train), tok_cfg)
    mcfg = model_config or ModelConfig(vocab_size=tok_cfg.vocab_size, max_len=tok_cfg.max_len)
    if (mcfg.vocab_size, mcfg.max_len) != (tok_cfg.vocab_size, tok_cfg.max_len):
        raise ValueError("model and tokenizer disagree on vocab_size/max_len")

    def arrays(examples):
        return tokenizer.encode_batch([t for t, _ in examples]), np.array([y for _, y in examples], dtype=np.float32)

    (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = arrays(splits.train), arrays(splits.val), arrays(splits.test)
    model = build_model(mcfg)
    model.compile(optimizer=keras.optimizers.Adam(tcfg.learning_rate), loss="binary_crossentropy",
                  metrics=["accuracy"])
    stop = keras.callbacks.EarlyStopping(monitor=tcfg.monitor, patience=tcfg.patience, restore_best_weights=True)
    device = training_device()
    print(f"training on {device}: train {len(x_tr):,} / val {len(x_va):,} / test {len(x_te):,} reviews "
          f"({splits.source})", flush=True)
    start = time.perf_counter()
    history = model.fit(x_tr, y_tr, validation_data=(x_va, y_va), epochs=tcfg.epochs, batch_size=tcfg.batch_size,
                        callbacks=[stop], verbose=tcfg.verbose, shuffle=True)
    seconds = time.perf_counter() - start
    val_loss, val_acc = model.evaluate(x_va, y_va, batch_size=512, verbose=0)
    test_loss, test_acc = model.evaluate(x_te, y_te, batch_size=512, verbose=0)  # once, after selection
    epochs_run = len(history.history["loss"])
    metrics = {
        "val_accuracy": round(float(val_acc), 5),
        "val_loss": round(float(val_loss), 5),
        "test_accuracy": round(float(test_acc), 5),
        "test_loss": round(float(test_loss), 5),
        "epochs_run": epochs_run,
        "best_epoch": _best_epoch(history.history, tcfg.monitor),
        "train_seconds": round(seconds, 1),
        "device": device,
        "data": {"source": splits.source, **splits.sizes()},
        "history": {k: [round(float(v), 5) for v in vs] for k, vs in history.history.items()},
        "versions": {"tensorflow": tf.__version__, "keras": keras.__version__, "python": platform.python_version(),
                     "numpy": np.__version__},
        "seed": tcfg.seed,
    }
    config = {"tokenizer": asdict(tok_cfg), "model": asdict(mcfg), "train": asdict(tcfg), "data": splits.spec}
    with atomic_directory(Path(out_dir), force=force) as tmp:
        model.save(tmp / MODEL_FILE)
        tokenizer.save(tmp / TOKENIZER_FILE)
        atomic_write_text(tmp / CONFIG_FILE, json.dumps(config, indent=2))
        atomic_write_text(tmp / METRICS_FILE, json.dumps(metrics, indent=2))
        plot_history(metrics["history"], tmp / CURVES_FILE)
    return metrics


def _best_epoch(history: dict, monitor: str) -> int:
    values = history[monitor]
    return int(np.argmax(values) if "acc" in monitor else np.argmin(values)) + 1


def plot_history(history: dict[str, list[float]], path: Path) -> None:
    """Accuracy and loss per epoch, train vs val, like the seed notebook's two plots side by side."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    epochs = range(1, len(history["loss"]) + 1)
    for ax, key in zip(axes, ("accuracy", "loss")):
        ax.plot(epochs, history[key], "o-", label=f"train {key}")
        ax.plot(epochs, history[f"val_{key}"], "s-", label=f"val {key}")
        ax.set_xlabel("epoch")
        ax.set_title(key)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def fit_from_options(out: Path, data: str, path: Path | None, epochs: int, batch_size: int, learning_rate: float,
                     vocab_size: int, max_len: int, limit: int | None, seed: int, force: bool,
                     verbose: int = 2, deterministic: bool = True) -> dict:
    """The CLI's and the pipeline's entry: load the data source, then :func:`train` with these settings."""
    from edge_sentiment.toolkit.data import load_splits

    splits = load_splits(data, path, seed=seed, limit=limit)
    tok = TokenizerConfig(vocab_size=vocab_size, max_len=max_len)
    model = ModelConfig(vocab_size=vocab_size, max_len=max_len)
    return train(splits, out, tok, model, TrainConfig(epochs=epochs, batch_size=batch_size,
                                                      learning_rate=learning_rate, seed=seed, verbose=verbose,
                                                      deterministic=deterministic), force)
