"""The report's PNG plots: latency per artifact, throughput vs batch size, size vs accuracy.

Figures are built with ``matplotlib.figure.Figure`` (the Agg canvas) rather than pyplot, so plotting neither needs a
display nor switches the backend of a caller's process; each PNG is rendered in memory and written atomically.
"""

from __future__ import annotations

import io
from pathlib import Path

from edge_sentiment.benchmarks.goals import GOAL_THROUGHPUT  # drawn as a reference line
from edge_sentiment.runtime.atomic import atomic_write_bytes


def write_plots(result: dict, out_dir: Path) -> dict[str, Path]:
    from matplotlib.figure import Figure

    figures = {"latency.png": _latency(Figure(figsize=(10, 6)), result),
               "throughput.png": _throughput(Figure(figsize=(9, 5.5)), result),
               "size_accuracy.png": _size_accuracy(Figure(figsize=(8, 5.5)), result)}
    paths = {}
    for name, fig in figures.items():
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=120)
        paths[name] = atomic_write_bytes(Path(out_dir) / name, buf.getvalue())
    return paths


def _label(row: dict) -> str:
    return row["label"] + ("\n(experimental / unverified)" if row["status"] == "experimental / unverified" else "")


def _latency(fig, result: dict):
    """p50 bars with p95 (thick) and p99 (thin) whiskers, log scale: the rows span three orders of magnitude."""
    rows = result["rows"]
    ax = fig.subplots()
    height = 0.38
    for offset, kind, colour in ((-height / 2, "model", "#4C72B0"), (height / 2, "text", "#DD8452")):
        ys = [i + offset for i in range(len(rows))]
        p50 = [r["latency"][kind]["p50_ms"] for r in rows]
        ax.barh(ys, p50, height=height, color=colour, label=f"p50 {'model only' if kind == 'model' else 'text→label'}")
        for y, r, p in zip(ys, rows, p50, strict=True):
            lat = r["latency"][kind]
            ax.plot([p, lat["p99_ms"]], [y, y], color="black", linewidth=0.8)
            ax.plot([p, lat["p95_ms"]], [y, y], color="black", linewidth=2.2)
            ax.plot([lat["p99_ms"]], [y], marker="|", color="black", markersize=7)
    ax.set_yticks(range(len(rows)), [_label(r) for r in rows], fontsize=8)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("batch-1 latency, ms (log scale); whiskers: thick to p95, thin to p99")
    ax.set_title("Latency per artifact")
    ax.grid(axis="x", which="both", alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return fig


def _throughput(fig, result: dict):
    ax = fig.subplots()
    from matplotlib import colormaps

    ax.set_prop_cycle(color=[*colormaps["tab10"].colors, "black"])  # one colour per row, scaling rows included
    sizes = [int(b) for b in result["rows"][0]["throughput"]]
    for row in result["rows"]:
        ax.plot(sizes, list(row["throughput"].values()), marker="o", label=_label(row).replace("\n", " "))
    for config in result["scaling"]["configs"][1:]:  # the first is the plain ONNX int8 row again
        points = [(int(b), v) for b, v in config["throughput"].items() if v is not None]
        ax.plot(*zip(*points, strict=True), marker="x", linestyle="--", label=f"ONNX int8, {config['name']}")
    ax.axhline(GOAL_THROUGHPUT, color="grey", linestyle=":", label=f"goal {GOAL_THROUGHPUT:,.0f}/s")
    ax.set_xscale("log", base=2)
    ax.set_xticks(sizes, [str(b) for b in sizes])
    ax.set_yscale("log")
    ax.set_xlabel("batch size")
    ax.set_ylabel("reviews / s (log scale)")
    ax.set_title("Throughput vs batch size")
    ax.grid(which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    return fig


def _size_accuracy(fig, result: dict):
    """One point per file: the three Keras rows share ``model.keras``."""
    ax = fig.subplots()
    placed: dict[tuple[float, float], int] = {}  # labels of near-identical points are stacked, not overprinted
    for row in result["rows"]:
        x, y = row["bytes"] / 1e6, row["accuracy"]
        keras = row["format"] == "keras"
        if y is None or (keras and row["key"] != "keras/predict"):
            continue
        spot = (round(x, 0), round(y, 3))
        placed[spot] = placed.get(spot, -1) + 1
        ax.scatter([x], [y], s=60, marker="s" if keras else "o",
                   color="grey" if keras else "#C44E52" if not row["verified"] else "#4C72B0")
        ax.annotate("Keras (model.keras)" if keras else _label(row).replace("\n", " "), (x, y),
                    textcoords="offset points", xytext=(6, 4 - 11 * placed[spot]), fontsize=8)
    if result["keras_accuracy"] is not None:
        ax.axhline(result["keras_accuracy"] - 0.005, color="grey", linestyle=":", label="Keras − 0.5 pt (int8 bar)")
        ax.legend(fontsize=8, loc="lower right")
    ax.set_xlabel("size on disk, MB")
    ax.set_ylabel("held-out accuracy (manifest parity)")
    ax.set_title("Size vs accuracy")
    ax.grid(which="both", alpha=0.3)
    fig.tight_layout()
    return fig
