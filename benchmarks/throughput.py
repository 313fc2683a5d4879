"""Throughput: reviews/s per batch size, and what scales ONNX Runtime on a few cores (threads vs callers)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from edge_sentiment.runtime.backends import make_backend
from edge_sentiment.runtime.bundle import Bundle

SCALING = {  # ONNX int8 on a few cores: name -> (sessions, intra-op threads per session, caller threads)
    "1 session x 1 thread": (1, 1, 1), "1 session x 2 threads": (1, 2, 1),
    "1 session x 1 thread, 2 callers": (1, 1, 2), "2 sessions x 1 thread, 2 callers": (2, 1, 2)}


def reviews_per_second(fn: Callable[[np.ndarray], object], ids: np.ndarray, batch: int, seconds: float) -> float:
    """Reviews per second at one batch size: repeated calls over consecutive slices of the reviews."""
    ids = ids if len(ids) >= batch else np.resize(ids, (batch, ids.shape[1]))
    batches = [ids[s : s + batch] for s in range(0, len(ids) - batch + 1, batch)]
    fn(batches[0])  # warm-up at this shape
    calls, start = 0, time.perf_counter_ns()
    while True:
        fn(batches[calls % len(batches)])
        calls += 1
        elapsed = time.perf_counter_ns() - start
        if calls >= 2 and elapsed >= seconds * 1e9:
            return calls * batch / elapsed * 1e9


def throughput(rows: list[Any], ids: np.ndarray, sizes: Sequence[int], seconds: float) -> None:
    for i, batch in enumerate(sizes):
        for row in rows[i % len(rows) :] + rows[: i % len(rows)]:
            row.result.setdefault("throughput", {})[str(batch)] = reviews_per_second(row.model, ids, batch, seconds)
    for row in rows:
        batch, rate = max(row.result["throughput"].items(), key=lambda kv: kv[1])
        row.result["throughput_best"] = {"batch": int(batch), "reviews_per_s": rate}


def scaling(bundle: Bundle, ids: np.ndarray, sizes: Sequence[int], seconds: float,
             progress: Callable[[str], None]) -> dict:
    """What scales on this machine's cores: more intra-op threads, or sessions driven from parallel callers.

    A multi-caller setup is not measured at batches smaller than its caller count (None there).
    """
    a = bundle.find("onnx", "int8")
    model, configs = bundle.read_checked(a.file, a.sha256), []
    with ThreadPoolExecutor(max(c for _, _, c in SCALING.values())) as pool:
        for name, (sessions, threads, callers) in SCALING.items():
            engines = [make_backend("onnx", model, threads) for _ in range(sessions)] * (callers // sessions)

            def run(x: np.ndarray, engines: list = engines) -> np.ndarray:  # ORT releases the GIL while it runs
                parts = np.array_split(x, len(engines))
                return np.concatenate(list(pool.map(lambda ep: ep[0].run(ep[1]), zip(engines, parts, strict=True))))

            fn = engines[0].run if len(engines) == 1 else run
            rates = {str(b): reviews_per_second(fn, ids, b, seconds) if b >= callers else None for b in sizes}
            configs.append({"name": name, "sessions": sessions, "threads": threads, "callers": callers,
                            "throughput": rates, "best": max((r for r in rates.values() if r), default=0.0)})
            progress(f"onnx int8 {name}: best {configs[-1]['best']:,.0f} reviews/s")
    return {"artifact": a.key, "configs": configs, "fastest": max(configs, key=lambda c: c["best"])["name"]}


def api_throughput(root: Path, texts: Sequence[str], seconds: float, progress: Callable[[str], None]) -> list[dict]:
    """Text -> label through ``SentimentClassifier.predict_batch`` (tokenization included), 1 vs 2 workers."""
    from edge_sentiment.runtime import SentimentClassifier

    out = []
    for workers in (1, 2):
        clf = SentimentClassifier.load(root, "onnx", "int8", workers=workers, allow_unverified=True)
        clf.predict_batch(texts[:64])  # warm-up: thread pool and ORT arenas
        rates = []
        for _ in range(3):
            done, start = 0, time.perf_counter()
            while done == 0 or time.perf_counter() - start < seconds:
                clf.predict_batch(texts, batch_size=256)
                done += len(texts)
            rates.append(done / (time.perf_counter() - start))
        out.append({"workers": workers, "reviews_per_s": float(np.median(rates))})
        progress(f"onnx int8 predict_batch, {workers} worker(s): {out[-1]['reviews_per_s']:,.0f} reviews/s text->label")
    return out

