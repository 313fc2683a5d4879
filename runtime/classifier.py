"""``SentimentClassifier``: text in, label out, with numpy plus one inference engine. No TensorFlow.

    clf = SentimentClassifier.load("artifacts/imdb", backend="onnx", precision="int8")
    clf.predict("The animation and graphics were out of this world")   # Prediction(label='positive', ...)
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge_sentiment.runtime.backends import Backend, backend_for_file, make_backend
from edge_sentiment.runtime.bundle import LABELS, Bundle
from edge_sentiment.runtime.errors import BundleError
from edge_sentiment.runtime.tokenizer import Tokenizer, check_text


@dataclass(frozen=True)
class Prediction:
    label: str  # "positive" or "negative"
    score: float  # confidence in ``label``: P(positive) for positive, 1 - P(positive) for negative
    positive_probability: float  # the model's raw output, P(positive)

    def to_dict(self) -> dict:
        return {"label": self.label, "score": round(self.score, 6), "positive_probability":
                round(self.positive_probability, 6)}


class SentimentClassifier:
    """Thread-safe: the tokenizer is read-only and each backend is safe to call from many threads."""

    def __init__(self, tokenizer: Tokenizer, backend: Backend, labels: Sequence[str] = LABELS,
                 threshold: float = 0.5, source: str = "", workers: int = 1) -> None:
        if not 0.0 < threshold < 1.0:
            raise ValueError(f"threshold must be between 0 and 1, got {threshold}")
        rows = getattr(backend, "vocab_size", None)
        if rows is not None and rows != tokenizer.config.vocab_size:
            raise BundleError(f"{source or 'model'} has {rows} embedding rows but the tokenizer's vocab_size is "
                              f"{tokenizer.config.vocab_size}: the tokenizer does not belong to this model")
        if backend.input_length != tokenizer.config.max_len:
            raise BundleError(f"{source or 'model'} expects {backend.input_length} ids per text but the tokenizer "
                              f"pads to {tokenizer.config.max_len}: the tokenizer does not belong to this model")
        self.tokenizer = tokenizer
        self.backend = backend
        self.labels = tuple(labels)
        self.threshold = threshold
        self.source = source
        # predict_batch splits each chunk over this many threads. ONNX Runtime releases the GIL while it runs, so on
        # 2 cores 2 workers roughly double throughput (see the benchmark's scaling table); LiteRT serialises on a lock.
        self.workers = max(1, workers) if getattr(backend, "concurrent", False) else 1
        self._pool = None
        self._pool_lock = threading.Lock()

    @classmethod
    def load(cls, bundle: str | Path, backend: str = "onnx", precision: str = "int8", threads: int = 1,
             allow_unverified: bool = False, workers: int = 1) -> SentimentClassifier:
        """Load one artifact of a bundle, checking schema, sha256 and tokenizer config first."""
        b = Bundle(bundle)
        artifact = b.find(backend, precision)
        if not artifact.verified and not allow_unverified:
            raise BundleError(f"{b.root / artifact.file} did not pass the parity gate "
                              f"({'; '.join(artifact.entry.get('parity', {}).get('failures', [])) or 'not verified'}); "
                              "pass allow_unverified=True (--allow-unverified) to use it anyway")
        tokenizer = b.tokenizer()
        engine = make_backend(backend, b.read_checked(artifact.file, artifact.sha256), threads)
        return cls(tokenizer, engine, b.labels, source=str(b.root / artifact.file), workers=workers)

    @classmethod
    def from_files(cls, model_path: str | Path, tokenizer_path: str | Path, threads: int = 1,
                   workers: int = 1) -> SentimentClassifier:
        """For devices that got only two files: one ``.onnx``/``.tflite`` model and its ``tokenizer.json``."""
        tokenizer = Tokenizer.load(tokenizer_path)
        engine = make_backend(backend_for_file(model_path), Path(model_path), threads)
        return cls(tokenizer, engine, source=str(model_path), workers=workers)

    def predict(self, text: str) -> Prediction:
        return self.prediction(float(self.backend.run(self.tokenizer.encode(text)[None, :])[0]))

    def predict_batch(self, texts: Sequence[str], batch_size: int = 256) -> list[Prediction]:
        """All texts are checked before any inference, so one bad item raises (naming its index) and never
        silently drops or shifts the others."""
        if isinstance(texts, (str, bytes)):
            raise TypeError("predict_batch takes a list of texts; use predict() for a single text")
        texts = list(texts)
        for i, text in enumerate(texts):
            check_text(text, i)
        probs = self.probabilities(texts, batch_size)
        return [self.prediction(float(p)) for p in probs]

    def probabilities(self, texts: Sequence[str], batch_size: int = 256) -> np.ndarray:
        """P(positive) per text, float32, in input order."""
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        out = np.empty(len(texts), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            chunk = texts[start : start + batch_size]
            out[start : start + len(chunk)] = self._run_chunk(chunk)
        return out

    def probabilities_from_ids(self, ids: np.ndarray) -> np.ndarray:
        """P(positive) for already-tokenized rows (n, max_len), split over the workers like text chunks."""
        return self._in_parallel(self.backend.run, ids)

    def _run_chunk(self, chunk: Sequence[str]) -> np.ndarray:
        # each worker tokenizes its own part, so one part's tokenizing overlaps another's inference
        return self._in_parallel(lambda part: self.backend.run(self.tokenizer.encode_batch(part)), chunk)

    def _in_parallel(self, run, items):
        """``run`` over ``items`` split into one contiguous part per worker, results concatenated in order."""
        if self.workers == 1 or len(items) < 2 * self.workers:
            return run(items)
        with self._pool_lock:
            if self._pool is None:
                from concurrent.futures import ThreadPoolExecutor

                self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="edge-sentiment")
        step = -(-len(items) // self.workers)
        return np.concatenate(list(self._pool.map(lambda s: run(items[s : s + step]), range(0, len(items), step))))

    def close(self) -> None:
        """Stop the worker threads (only started by predict_batch with workers > 1)."""
        with self._pool_lock:
            if self._pool is not None:
                self._pool.shutdown()
                self._pool = None

    def __enter__(self) -> SentimentClassifier:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def prediction(self, p: float) -> Prediction:
        if not 0.0 <= p <= 1.0:  # NaN included: a broken model must not turn into a confident "negative"
            raise BundleError(f"{self.source or 'the model'} returned {p}, not a probability; the model is broken")
        positive = p >= self.threshold
        return Prediction(self.labels[int(positive)], p if positive else 1.0 - p, p)
