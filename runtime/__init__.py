"""The TensorFlow-free runtime: tokenizer, bundle reader, engine backends and the SentimentClassifier.

Importing this package pulls in numpy only; the engine (onnxruntime or LiteRT) is imported when a model loads.
"""

from edge_sentiment.runtime.classifier import Prediction, SentimentClassifier
from edge_sentiment.runtime.errors import BundleError, EdgeSentimentError, InputError, InputTypeError
from edge_sentiment.runtime.tokenizer import Tokenizer, TokenizerConfig

__all__ = ["BundleError", "EdgeSentimentError", "InputError", "InputTypeError", "Prediction",
           "SentimentClassifier", "Tokenizer", "TokenizerConfig"]
