"""The latency benchmark: every way to run the model, side by side in one process, on the same held-out reviews.

Shared machines are noisy, so the figures to trust are ratios measured in one run: rows are timed in interleaved
rounds (each round in a rotated row order), every row walks the same reviews in the same order, and latency is
p50/p95/p99 after a warm-up. Cold start runs in fresh subprocesses, so nothing this process imported is counted.
"""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from edge_sentiment.benchmarks.cold_start import cold_start
from edge_sentiment.benchmarks.report import machine_info, write_report
from edge_sentiment.benchmarks.throughput import api_throughput, throughput
from edge_sentiment.benchmarks.throughput import scaling as scaling_study
from edge_sentiment.converters.bundle_writer import EXPERIMENTAL, held_out, reference_model
from edge_sentiment.converters.common import FORMATS, PRECISIONS
from edge_sentiment.runtime.bundle import Bundle
from edge_sentiment.runtime.classifier import SentimentClassifier
from edge_sentiment.runtime.tokenizer import Tokenizer

RESULT_FORMAT = "edge-sentiment-benchmark/1"
KINDS = ("model", "text")  # model: ids in -> probability out; text: text in -> label out, tokenization included
CHECK_ROWS = 256  # reviews each row classifies once, untimed, to prove it computes what Keras computes


@dataclass(frozen=True)
class Plan:
    """How hard to measure. Iteration counts follow from a time budget, so fast engines get thousands of calls."""

    reviews: int = 1000  # held-out reviews every row rotates through
    batch_sizes: tuple[int, ...] = (1, 16, 64, 256)
    budget_s: float = 2.0  # measured time per row and kind, turned into a call count from the warm-up speed
    max_iterations: int = 3000  # per row and kind
    keras_predict_max: int = 40  # model.predict costs ~50 ms a call
    keras_call_max: int = 15  # an eager call runs the LSTM loop in Python: ~250 ms
    warmup: int = 20  # calls, or fewer once a quarter of budget_s has passed
    rounds: int = 5  # interleaved rounds per kind
    throughput_s: float = 0.4  # per row and batch size
    cold_runs: int = 3  # fresh processes per cold-start row; the median is reported
    cold_keys: tuple[str, ...] | None = None  # None: every engine artifact, plus one Keras run for contrast


FULL = Plan()
QUICK = Plan(reviews=256, batch_sizes=(1, 16), budget_s=0.15, max_iterations=200, keras_predict_max=4,
             keras_call_max=2, warmup=3, rounds=2, throughput_s=0.05, cold_runs=1,
             cold_keys=("onnx/int8", "tflite/int8"))


@dataclass
class Row:
    """One way to run the model: ``model`` maps (n, max_len) int32 ids to (n,) probabilities, ``text`` to a label."""

    key: str
    model: Callable[[np.ndarray], np.ndarray]
    text: Callable[[str], str]
    max_iterations: int
    info: dict
    result: dict = field(default_factory=dict)


def run_benchmark(bundle_dir: str | Path, out_dir: str | Path, quick: bool = False,
                  batch_sizes: Sequence[int] | None = None, iterations: int | None = None, threads: int = 1,
                  progress: Callable[[str], None] = print) -> dict:
    """Measure every row of a bundle, write the report into ``out_dir`` and return the JSON-serialisable result.

    ``batch_sizes`` None means (1, 16, 64, 256), or (1, 16) when ``quick``. ``iterations`` fixes the measured calls
    per row and kind instead of the time budget; Keras ``predict`` and eager calls stay capped (they take 50-250 ms).
    """
    started, load_before = time.perf_counter(), os.getloadavg()
    plan = QUICK if quick else FULL
    sizes = tuple(batch_sizes or plan.batch_sizes)
    bundle = Bundle(bundle_dir)
    tokenizer = bundle.tokenizer()
    progress("loading Keras and the held-out reviews")
    rows, model, tf_threads = _keras_rows(bundle, tokenizer, plan, iterations)
    texts = held_out(bundle.manifest.get("data"), tokenizer, plan.reviews, bundle.root / "manifest.json")[0]
    ids = tokenizer.encode_batch(texts)
    tokenizer_speed = _tokenizer_rate(tokenizer, texts, plan.throughput_s)
    progress(f"tokenizer: {tokenizer_speed['reviews_per_s']:,.0f} reviews/s, one text per call, one thread")
    rows += _engine_rows(bundle, threads, iterations or plan.max_iterations)
    progress(f"latency: {len(rows)} rows x {len(KINDS)} kinds, {plan.rounds} interleaved rounds, {len(texts)} reviews")
    for kind, inputs in (("model", [ids[i : i + 1] for i in range(len(ids))]), ("text", texts)):
        _latency(rows, kind, inputs, plan, iterations)
    progress(f"throughput at batch {', '.join(map(str, sizes))}")
    throughput(rows, ids, sizes, plan.throughput_s)
    by_key = {row.key: row for row in rows}
    reference = by_key["keras/tf.function"].model(ids[:CHECK_ROWS])
    for row in rows:
        row.result["speedup"] = {k: by_key["keras/predict"].result["latency"][k]["p50_ms"]
                                 / row.result["latency"][k]["p50_ms"] for k in KINDS}
        probs = row.model(ids[:CHECK_ROWS])
        row.result["check"] = {"n": len(probs), "agreement": float(np.mean((probs >= 0.5) == (reference >= 0.5))),
                               "max_abs_diff": float(np.max(np.abs(probs - reference)))}
        lat, best = row.result["latency"], row.result["throughput_best"]
        progress(f"{row.key:<18} p50 model {lat['model']['p50_ms']:8.3f} ms  text {lat['text']['p50_ms']:8.3f} ms  "
                 f"x{row.result['speedup']['text']:<7.1f} best {best['reviews_per_s']:9,.0f}/s @{best['batch']:<4} "
                 f"agree {row.result['check']['agreement']:.3f}  [{row.info['status']}]")
    if any(a.key == "onnx/int8" for a in bundle.artifacts):
        scaling = scaling_study(bundle, ids, sizes, plan.throughput_s, progress)
        scaling["text_to_label"] = api_throughput(bundle.root, texts, plan.throughput_s, progress)
    else:  # a TFLite-only bundle: the ONNX scaling study has nothing to run on
        scaling = {"artifact": None, "configs": [], "fastest": None, "text_to_label": []}
    cold = []
    for key in plan.cold_keys or ["keras/model", *(r.key for r in rows if r.info["format"] != "keras")]:
        runs = 1 if key == "keras/model" else plan.cold_runs  # importing TensorFlow takes seconds: once is enough
        cold.append(c := cold_start(bundle.root, key, texts[0], threads, runs))
        progress(f"cold start {key}: " + (c.get("error") or f"{c['child_ms']:.0f} ms in process, "
                                          f"{c['total_ms']:.0f} ms total, peak RSS {c['rss_mb']:.0f} MB"))
    result = {"format": RESULT_FORMAT, "bundle": str(bundle.root), "quick": quick,
              "created": datetime.now(UTC).isoformat(timespec="seconds"),
              "settings": {"batch_sizes": list(sizes), "iterations": iterations, "threads": threads,
                           "reviews": len(texts), "plan": asdict(plan)},
              "keras_accuracy": by_key["keras/predict"].info["accuracy"],
              "rows": [{"key": r.key, **r.info, **r.result} for r in rows], "scaling": scaling, "cold_start": cold,
              "tokenizer": tokenizer_speed,
              "machine": machine_info(threads, tf_threads, load_before),
              "seconds": round(time.perf_counter() - started, 1)}
    progress(f"done in {result['seconds']:.0f} s: {write_report(result, Path(out_dir))['report.md']}")
    return result


def _keras_rows(bundle: Bundle, tokenizer: Tokenizer, plan: Plan,
                iterations: int | None) -> tuple[list[Row], object, dict]:
    """Keras three ways: ``predict`` (what notebooks do), an eager call, and a compiled ``tf.function``."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("ABSL_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    model = reference_model(bundle)
    entry = bundle.manifest["model"]
    graph = tf.function(lambda x: model(x, training=False),
                        input_signature=[tf.TensorSpec((None, tokenizer.config.max_len), tf.int32)])
    paths = {"predict": (lambda x: model.predict(x, batch_size=len(x), verbose=0), plan.keras_predict_max),
             "call": (lambda x: model(x, training=False).numpy(), plan.keras_call_max),
             "tf.function": (lambda x: graph(x).numpy(), plan.max_iterations)}
    parity = next((a.entry.get("parity", {}) for a in bundle.artifacts), {})
    info = {"format": "keras", "precision": "float32", "file": entry["file"], "verified": True, "status": "reference",
            "bytes": (bundle.root / entry["file"]).stat().st_size, "accuracy": parity.get("keras_accuracy"),
            "agreement": 1.0, "max_abs_diff": 0.0, "parity_n": parity.get("n")}
    rows = []
    for name, (fn, cap) in paths.items():
        def probs(x: np.ndarray, fn=fn) -> np.ndarray:
            return np.reshape(fn(x), -1)

        def text(t: str, probs=probs) -> str:
            return bundle.labels[int(float(probs(tokenizer.encode_batch([t]))[0]) >= 0.5)]

        rows.append(Row(f"keras/{name}", probs, text, min(cap, iterations or cap), {"label": f"Keras {name}", **info}))
    return rows, model, {"tensorflow_intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
                         "tensorflow_inter_op": tf.config.threading.get_inter_op_parallelism_threads()}


def _engine_rows(bundle: Bundle, threads: int, max_iterations: int) -> list[Row]:
    """One row per artifact: a bare backend for model-only timing, a SentimentClassifier for text -> label."""
    rows = []
    for a in sorted(bundle.artifacts, key=lambda a: (a.precision in EXPERIMENTAL, FORMATS.index(a.format),
                                                     PRECISIONS.index(a.precision))):
        clf = SentimentClassifier.load(bundle.root, a.format, a.precision, threads, allow_unverified=True)
        backend = clf.backend
        p = a.entry.get("parity", {})
        info = {"label": f"{'ONNX' if a.format == 'onnx' else 'TFLite'} {a.precision}", "format": a.format,
                "precision": a.precision, "file": a.file, "bytes": a.bytes, "verified": a.verified,
                "status": "verified" if a.verified else
                          "experimental / unverified" if a.precision in EXPERIMENTAL else "unverified",
                "accuracy": p.get("accuracy"), "agreement": p.get("agreement"),
                "max_abs_diff": p.get("max_abs_diff"), "parity_n": p.get("n"),
                "row_by_row": bool(getattr(backend, "row_by_row", False) or backend.fixed_batch == 1)}
        rows.append(Row(a.key, backend.run, lambda t, clf=clf: clf.predict(t).label, max_iterations, info))
    return rows


def _tokenizer_rate(tokenizer: Tokenizer, texts: Sequence[str], seconds: float) -> dict:
    """Reviews/s through the pure-Python tokenizer, one text per call on one thread: median of 3 timed rounds."""
    rates = []
    for _ in range(3):
        done, start = 0, time.perf_counter()
        while done == 0 or time.perf_counter() - start < seconds:
            for text in texts:
                tokenizer.encode(text)
            done += len(texts)
        rates.append(done / (time.perf_counter() - start))
    return {"reviews_per_s": float(np.median(rates)), "reviews": len(texts),
            "mean_chars": float(np.mean([len(t) for t in texts]))}


def _latency(rows: list[Row], kind: str, inputs: Sequence, plan: Plan, iterations: int | None) -> None:
    """Warm every row up, then time single calls in rounds, rotating the row order each round."""
    n, calls = len(inputs), {}
    for row in rows:
        fn, done, start = getattr(row, kind), 0, time.perf_counter()
        while done < max(plan.warmup, 2) and (done < 2 or time.perf_counter() - start < plan.budget_s / 4):
            fn(inputs[done % n])
            done += 1
        wanted = iterations or int(plan.budget_s * done / (time.perf_counter() - start))
        calls[row.key] = max(1, min(row.max_iterations, wanted))
    samples: dict[str, list[int]] = {row.key: [] for row in rows}
    for r in range(plan.rounds):
        for row in rows[r % len(rows) :] + rows[: r % len(rows)]:
            fn, got, total = getattr(row, kind), samples[row.key], calls[row.key]
            todo = total * (r + 1) // plan.rounds - total * r // plan.rounds
            if todo:
                fn(inputs[len(got) % n])  # untimed: the first call after switching engines pays for cold caches
            gc.disable()
            try:
                for _ in range(todo):
                    x = inputs[len(got) % n]
                    t0 = time.perf_counter_ns()
                    fn(x)
                    got.append(time.perf_counter_ns() - t0)
            finally:
                gc.enable()
    for row in rows:
        ms = np.asarray(samples[row.key]) / 1e6
        row.result.setdefault("latency", {})[kind] = {
            **{f"p{q}_ms": float(np.percentile(ms, q)) for q in (50, 95, 99)},
            "mean_ms": float(ms.mean()), "min_ms": float(ms.min()), "n": len(ms)}
