"""The seed notebook's BiLSTM, every size a config field. Keras 3 (``tf.keras`` in TF 2.21)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelConfig:
    """Embedding -> Bidirectional LSTM -> Dense ReLU -> Dense sigmoid, as in the seed notebook."""

    vocab_size: int = 10_000  # embedding rows; must equal the tokenizer's vocab_size
    max_len: int = 200  # input length; must equal the tokenizer's max_len (seed: 150, see README for why 200)
    embedding_dim: int = 64  # seed: 64
    lstm_units: int = 64  # per direction; seed: 64
    dense_units: int = 64  # seed: 64
    embedding_dropout: float = 0.5  # a Dropout layer, not LSTM(dropout=...), which would cost the cuDNN kernel
    dense_dropout: float = 0.5  # after the dense layer; the seed overfit without any


def build_model(config: ModelConfig):
    """An uncompiled Keras model taking int32 ids of shape (batch, max_len) and giving P(positive), (batch, 1)."""
    import keras
    from keras import layers

    tokens = keras.Input((config.max_len,), dtype="int32", name="tokens")
    x = layers.Embedding(config.vocab_size, config.embedding_dim, name="embedding")(tokens)
    x = layers.Dropout(config.embedding_dropout, name="embedding_dropout")(x)
    x = layers.Bidirectional(layers.LSTM(config.lstm_units, name="lstm"), name="bilstm")(x)
    x = layers.Dense(config.dense_units, activation="relu", name="dense")(x)
    x = layers.Dropout(config.dense_dropout, name="dense_dropout")(x)
    prob = layers.Dense(1, activation="sigmoid", name="probability")(x)
    return keras.Model(tokens, prob, name="bilstm_sentiment")
