"""A benchmark result -> ``report.json``, ``report.md`` and PNG plots, each written atomically (never half a report).

The markdown leads with tables, then derives "which to ship" and the goals from the same numbers, so the prose can
never disagree with the measurements.
"""

from __future__ import annotations

import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path

from edge_sentiment.benchmarks.goals import (
    GOAL_ACCURACY_DROP,
    GOAL_COLD_MS,
    GOAL_INT8_MB,
    GOAL_P50_MS,
    GOAL_RSS_MB,
    GOAL_SPEEDUP,
    GOAL_THROUGHPUT,
    GOAL_TOKENIZER,
)
from edge_sentiment.benchmarks.plots import write_plots
from edge_sentiment.converters.bundle_writer import library_versions
from edge_sentiment.runtime.atomic import atomic_write_text

MB = 1e6  # sizes and RSS in decimal megabytes (10^6 bytes)


def write_report(result: dict, out_dir: Path) -> dict[str, Path]:
    """Write everything into ``out_dir``; returns file name -> path."""
    out_dir = Path(out_dir)
    paths = {"report.json": atomic_write_text(out_dir / "report.json", json.dumps(result, indent=2, allow_nan=False)),
             "report.md": atomic_write_text(out_dir / "report.md", render_markdown(result))}
    paths.update(write_plots(result, out_dir))
    return paths


def render_markdown(result: dict) -> str:
    rows = result["rows"]
    parts = [f"# Benchmark: `{result['bundle']}`", "",
             f"{result['created']} · {'quick' if result['quick'] else 'full'} run · {result['settings']['reviews']} "
             f"held-out reviews · engine threads {result['settings']['threads']} · {result['seconds']:.0f} s. "
             "Rows were timed in interleaved rounds on the same reviews; ratios are from this one run.", "",
             "## Headline", "", *_headline(rows), "", "## Throughput vs batch size (reviews/s)", "",
             *_throughput(rows, result["scaling"]), "", "## Cold start (fresh process)", "",
             *_cold(result["cold_start"]), "", "## Which to ship", "", *_ship(result), "", "## Goals", "",
             *_goals(result), "", "## Machine", "", *_machine(result), ""]
    return "\n".join(parts)


def _table(header: list[str], body: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header), *("| " + " | ".join(r) + " |" for r in body)]


def _ms(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.3f}" if v < 1 else f"{v:.2f}" if v < 10 else f"{v:.1f}"


def _num(v: float | None, fmt: str) -> str:
    return "n/a" if v is None else format(v, fmt)


def _name(row: dict) -> str:
    return row["label"] + ("" if row["status"] in ("verified", "reference") else f" ({row['status']})")


def _headline(rows: list[dict]) -> list[str]:
    header = ["artifact", "size MB", "accuracy", "agreement", "max \\|Δp\\|", "p50 model-only ms",
              "p50 text→label ms", "p95 text ms", "p99 text ms", "speedup vs Keras predict (model / text)",
              "throughput best"]
    body = []
    for r in rows:
        lat, best = r["latency"], r["throughput_best"]
        body.append([_name(r), f"{r['bytes'] / MB:.3f}", _num(r["accuracy"], ".4f"), _num(r["agreement"], ".2%"),
                     _num(r["max_abs_diff"], ".2g"), _ms(lat["model"]["p50_ms"]), _ms(lat["text"]["p50_ms"]),
                     _ms(lat["text"]["p95_ms"]), _ms(lat["text"]["p99_ms"]),
                     f"×{r['speedup']['model']:,.1f} / ×{r['speedup']['text']:,.1f}",
                     f"{best['reviews_per_s']:,.0f}/s @ {best['batch']}"])
    calls = ", ".join(f"{r['label']} {r['latency']['model']['n']:,}" for r in rows)
    return [*_table(header, body), "",
            "Accuracy, agreement and max |Δp| are the parity figures from the manifest (vs Keras, "
            f"{rows[0]['parity_n']} held-out reviews); Keras rows are the reference. Latency: batch 1, one review "
            f"per call, p95/p99 of text→label. Timed calls per row and kind: {calls}."]


def _throughput(rows: list[dict], scaling: dict) -> list[str]:
    sizes = list(rows[0]["throughput"])
    body = [[_name(r), *(f"{r['throughput'][b]:,.0f}" for b in sizes)] for r in rows]
    for c in scaling["configs"]:
        body.append([f"ONNX int8, {c['name']}", *(_num(c["throughput"][b], ",.0f") for b in sizes)])
    looped = ", ".join(r["label"] for r in rows if r.get("row_by_row")) or "none"
    return [*_table(["artifact \\ batch", *sizes], body), "",
            f"Fed one row per engine call by the runtime backend (a static batch of 1, or ONNX dynamic int8 kept "
            f"batch-independent): {looped}."
            + (" Multi-caller rows split each batch across a thread pool (ONNX Runtime releases the GIL); the "
               "'2 sessions' setup is the harness's own, `SentimentClassifier(workers=2)` is '1 session x 1 thread, "
               f"2 callers'. Fastest ONNX int8 setup here: **{scaling['fastest']}**." if scaling["configs"] else "")]


def _cold(cold: list[dict]) -> list[str]:
    header = ["artifact", "runs", "import ms", "load ms", "first predict ms", "in-process ms", "total wall ms",
              "peak RSS MB", "tensorflow imported"]
    body = []
    for c in cold:
        if "error" in c:
            body.append([c["key"], str(c["runs"]), f"failed: {c['error']}", *["n/a"] * 6])
            continue
        body.append([c["key"], str(c["runs"]), f"{c['import_ms']:.0f}", f"{c['load_ms']:.0f}",
                     f"{c['first_predict_ms']:.1f}", f"{c['child_ms']:.0f}", f"{c['total_ms']:.0f}",
                     f"{c['rss_mb']:.0f}", "yes" if c["tensorflow_loaded"] else "no"])
    return [*_table(header, body), "",
            "Medians. In-process: from the child's first line to the first label. Total: the parent's wall time for "
            "the whole subprocess, interpreter start-up included."]


def _ship(result: dict) -> list[str]:
    keras_acc = result["keras_accuracy"]
    engines = [r for r in result["rows"] if r["format"] != "keras"]
    ok = [r for r in engines if r["verified"] and r["accuracy"] is not None and keras_acc is not None
          and r["accuracy"] >= keras_acc - GOAL_ACCURACY_DROP]
    if not ok:
        return ["No verified artifact meets the accuracy bar; ship nothing from this bundle."]
    smallest = min(ok, key=lambda r: r["bytes"])
    fastest = min(ok, key=lambda r: r["latency"]["text"]["p50_ms"])
    busiest = max(ok, key=lambda r: r["throughput_best"]["reviews_per_s"])
    lines = [f"- Smallest verified artifact within {GOAL_ACCURACY_DROP * 100:.1f} pt of Keras: **{smallest['label']}** "
             f"(`{smallest['file']}`, {smallest['bytes'] / MB:.3f} MB, accuracy {smallest['accuracy']:.4f} vs Keras "
             f"{keras_acc:.4f}).",
             f"- Fastest batch-1 text→label: **{fastest['label']}** ({_ms(fastest['latency']['text']['p50_ms'])} ms "
             f"p50, ×{fastest['speedup']['text']:,.0f} Keras predict).",
             f"- Highest single-engine throughput: **{busiest['label']}** "
             f"({busiest['throughput_best']['reviews_per_s']:,.0f}/s at batch {busiest['throughput_best']['batch']})."]
    tflite = [r for r in ok if r["format"] == "tflite"]
    if tflite:
        best = min(tflite, key=lambda r: (r["bytes"], r["latency"]["text"]["p50_ms"]))
        lines.append(f"- On a LiteRT-only device: **{best['label']}** ({best['bytes'] / MB:.3f} MB, "
                     f"{_ms(best['latency']['text']['p50_ms'])} ms p50).")
    lines += [f"- Not for shipping: {r['label']} ({r['status']})." for r in engines if not r["verified"]]
    verdict = smallest["label"] if smallest is fastest else f"{smallest['label']} (size) or {fastest['label']} (speed)"
    return [*lines, "", f"**Ship {verdict}.**"]


def _goals(result: dict) -> list[str]:
    rows = {r["key"]: r for r in result["rows"]}
    onnx, keras_acc = rows.get("onnx/int8"), result["keras_accuracy"]
    cold = next((c for c in result["cold_start"] if c["key"] == "onnx/int8" and "error" not in c), None)
    goals: list[tuple[str, str, str, bool]] = []  # goal, target, measured (as shown), met

    def add(goal: str, target: str, value: float | None, fmt: str, met: bool, note: str = "") -> None:
        goals.append((goal, target, _num(value, fmt) + (note if value is not None else ""), met))

    p50 = onnx["latency"]["text"]["p50_ms"] if onnx else None
    add("ONNX int8 batch-1 text→label p50 (ms)", f"≤ {GOAL_P50_MS}", p50, ".3f", p50 is not None and p50 <= GOAL_P50_MS)
    speed = onnx["speedup"]["text"] if onnx else None
    add("ONNX int8 speedup vs Keras predict (text→label p50)", f"≥ ×{GOAL_SPEEDUP:.0f}", speed, ",.0f",
        speed is not None and speed >= GOAL_SPEEDUP, onnx and f" (model-only ×{onnx['speedup']['model']:,.0f})")
    add("ONNX int8 cold start: fresh process to first prediction, wall (ms)", f"≤ {GOAL_COLD_MS:.0f}",
        cold and cold["total_ms"], ".0f", cold is not None and cold["total_ms"] <= GOAL_COLD_MS,
        cold and f" ({cold['child_ms']:.0f} ms of it import + load + first predict)")
    add("ONNX int8 cold-start peak RSS (MB)", f"≤ {GOAL_RSS_MB:.0f}", cold and cold["rss_mb"], ".0f",
        cold is not None and cold["rss_mb"] <= GOAL_RSS_MB)
    rates = [(c["best"], c["name"]) for c in result["scaling"]["configs"]]
    top = max(rates, default=(None, ""))
    add(f"ONNX int8 throughput, best setup ({top[1]}) (reviews/s)", f"≥ {GOAL_THROUGHPUT:,.0f}", top[0], ",.0f",
        top[0] is not None and top[0] >= GOAL_THROUGHPUT)
    for r in (r for r in result["rows"] if r["precision"] == "int8"):
        size = r["bytes"] / MB
        add(f"{r['label']} file size (MB)", f"≤ {GOAL_INT8_MB}", size, ".4f", size <= GOAL_INT8_MB)
        drop = None if r["accuracy"] is None or keras_acc is None else (keras_acc - r["accuracy"]) * 100
        add(f"{r['label']} accuracy drop vs Keras (pt)", f"≤ {GOAL_ACCURACY_DROP * 100:.1f}", drop, "+.2f",
            drop is not None and drop <= GOAL_ACCURACY_DROP * 100)
    api = {a["workers"]: a["reviews_per_s"] for a in result["scaling"].get("text_to_label", [])}
    if api:
        best = max(api, key=api.get)
        add(f"ONNX int8 text→label, predict_batch(workers={best}) (reviews/s)", f"≥ {GOAL_THROUGHPUT:,.0f}",
            api[best], ",.0f", api[best] >= GOAL_THROUGHPUT)
    tok = result.get("tokenizer", {}).get("reviews_per_s")
    add("tokenizer, one review per call, one thread (reviews/s)", f"≥ {GOAL_TOKENIZER:,.0f}", tok, ",.0f",
        tok is not None and tok >= GOAL_TOKENIZER)
    body = [[g, t, v, "met" if m else "—" if v == "n/a" else "**missed**"] for g, t, v, m in goals]
    return _table(["goal", "target", "measured", "result"], body)


def _machine(result: dict) -> list[str]:
    m, s = result["machine"], result["settings"]
    versions = ", ".join(f"{k} {v}" for k, v in m["versions"].items())
    threads = ", ".join(f"{k}={v}" for k, v in m["threads"].items())
    return [f"- CPU: {m['cpu']}, {m['cores']} cores ({m['usable_cores']} usable), {m['machine']}",
            f"- OS: {m['os']}; Python {m['python']}",
            f"- Versions: {versions}",
            f"- Threads: {threads} (TensorFlow 0 = its default, all cores)",
            f"- Load average (1/5/15 min) before {m['load_average_before']}, after {m['load_average_after']}",
            f"- Batch sizes {s['batch_sizes']}; iterations {s['iterations'] or 'from the time budget'}; date (UTC) "
            f"{m['date_utc']}"]


def machine_info(threads: int, tf_threads: dict, load_before: tuple[float, ...]) -> dict:
    """What a reader needs to weigh the numbers: CPU, cores, OS, versions, threads, and how busy the machine was."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        cpuinfo = []
    cpu = next((ln.split(":", 1)[1].strip() for ln in cpuinfo if ln.startswith("model name")), platform.processor())
    versions = library_versions()
    try:
        versions["matplotlib"] = version("matplotlib")
    except PackageNotFoundError:
        pass
    return {"cpu": cpu or "unknown", "cores": os.cpu_count(),
            "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
            "os": platform.platform(), "machine": platform.machine(), "python": platform.python_version(),
            "versions": versions,
            "threads": {"engine_intra_op": threads, "onnx_inter_op": 1, **tf_threads,
                        **{k: os.environ[k] for k in ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS") if k in os.environ}},
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
            "date_utc": datetime.now(UTC).isoformat(timespec="seconds")}
