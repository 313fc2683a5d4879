"""One tiny real model per test session: trained on a few thousand real IMDB reviews, converted for real.

Building it costs ~1 minute on 2 cores; every slow test shares it through these session fixtures.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

TINY = {"vocab_size": 3000, "max_len": 64}
SPLIT = {"test_size": 1000, "val_size": 500, "limit": 4000, "seed": 7}


@pytest.fixture(scope="session")
def tiny_splits():
    from edge_sentiment.toolkit.data import load_splits

    return load_splits("bundled", **SPLIT)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, tiny_splits) -> Path:
    from edge_sentiment.runtime.tokenizer import TokenizerConfig
    from edge_sentiment.toolkit.model import ModelConfig
    from edge_sentiment.toolkit.train import TrainConfig, train

    out = tmp_path_factory.mktemp("tiny") / "model"
    train(tiny_splits, out, TokenizerConfig(**TINY),
          ModelConfig(**TINY, embedding_dim=32, lstm_units=16, dense_units=16),
          TrainConfig(epochs=2, batch_size=64, learning_rate=3e-3, seed=7, verbose=0))
    return out


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory, tiny_model_dir) -> Path:
    """All four artifacts, gated on the tiny model's 1,000 held-out reviews. Treat as read-only."""
    from edge_sentiment.converters.bundle_writer import convert_model_dir

    out = tmp_path_factory.mktemp("bundle") / "bundle"
    convert_model_dir(tiny_model_dir, out, progress=lambda _: None)
    return out


@pytest.fixture()
def bundle_copy(tiny_bundle, tmp_path) -> Path:
    """A private copy of the bundle for tests that damage it."""
    return Path(shutil.copytree(tiny_bundle, tmp_path / "bundle"))
