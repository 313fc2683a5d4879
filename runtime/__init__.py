"""The TensorFlow-free runtime: tokenizer, bundle reader, engine backends and the SentimentClassifier."""

from edge_sentiment.runtime.errors import BundleError, EdgeSentimentError, InputError, InputTypeError
from edge_sentiment.runtime.tokenizer import Tokenizer, TokenizerConfig

__all__ = ["BundleError", "EdgeSentimentError", "InputError", "InputTypeError", "Tokenizer", "TokenizerConfig"]
