"""edge-sentiment: a BiLSTM sentiment classifier from Keras to the edge, with proof that it still works there.

The user's top-level folders map into this namespace: ``runtime/`` -> ``edge_sentiment.runtime`` (no TensorFlow),
``converters/`` -> ``edge_sentiment.converters``, ``toolkit/`` -> ``edge_sentiment.toolkit``,
``benchmarks/`` -> ``edge_sentiment.benchmarks``.
"""

__version__ = "0.1.0"
