"""The serving-side commands: ``predict`` (TensorFlow-free), ``benchmark`` and ``pipeline``."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Optional

import numpy as np
import typer

from edge_sentiment.toolkit.cli import (
    AsJson,
    DataPath,
    DataSource,
    Epochs,
    Force,
    GateLimit,
    TrainLimit,
    _quiet_tensorflow,
    _say,
    app,
    friendly_errors,
)

STREAM_CHUNK = 256  # lines classified per engine call when streaming


@app.command()
@friendly_errors
def predict(
    bundle: Path = typer.Argument(..., help="A bundle directory written by `edge-sentiment convert`."),
    text: Optional[str] = typer.Argument(None, help="The text to classify (or use --input)."),
    input: Optional[str] = typer.Option(None, "--input", "-i",
                                        help="File with one text per line, or JSONL {\"text\": ...}; '-' = stdin. "
                                             "Streams JSONL out."),
    backend: str = typer.Option("onnx", help="onnx | tflite"),
    precision: str = typer.Option("int8", help="float32 | int8 | int8-full"),
    threads: int = typer.Option(1, min=1, help="Engine intra-op threads."),
    workers: int = typer.Option(1, min=1, help="Threads sharing a streamed chunk (ONNX only): 2 on a 2-core machine "
                                        "roughly doubles throughput."),
    allow_unverified: bool = typer.Option(False, "--allow-unverified", help="Use an artifact that failed the gate."),
    as_json: AsJson = False,
) -> None:
    """Classify text with the lightweight runtime (no TensorFlow). Exit 3 if any streamed line could not be read."""
    from edge_sentiment.runtime import SentimentClassifier

    if (text is None) == (input is None):
        raise ValueError("give either TEXT or --input FILE|- (not both, not neither)")
    clf = SentimentClassifier.load(bundle, backend, precision, threads, allow_unverified, workers)
    if text is not None:
        p = clf.predict(text)
        typer.echo(json.dumps(p.to_dict()) if as_json else f"{p.label}\t{p.score:.4f}")
        return
    bad = 0
    for record in _stream(clf, input):
        bad += "error" in record
        typer.echo(json.dumps(record, ensure_ascii=False))
    if bad:
        _say(f"{bad} line(s) could not be classified (see their 'error' field)")
        raise typer.Exit(3)


def _lines(source: str) -> Iterator[tuple[int, bytes]]:
    if source == "-":
        yield from enumerate(sys.stdin.buffer, 1)
        return
    try:
        with open(source, "rb") as fh:
            yield from enumerate(fh, 1)
    except OSError as exc:
        raise ValueError(f"cannot read --input {source}: {exc.strerror or exc}") from exc


def _parse(raw: bytes) -> str:
    """One input line -> text. Raises ValueError with a readable reason for undecodable or malformed lines."""
    try:
        line = raw.decode("utf-8").rstrip("\r\n").removeprefix("\ufeff")  # a BOM would hide a JSON line
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8 (byte {exc.start})") from exc
    if line.lstrip().startswith("{"):
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"invalid JSON ({exc.msg})") from exc
        if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
            raise ValueError("JSON line has no string 'text' field")
        return obj["text"]
    return line


def _stream(clf, source: str) -> Iterator[dict]:
    """Classify line by line in chunks; a bad line yields an error record in its place, never shifting others.
    Each line is tokenized once, as it is read, so the tokenizer's own refusals become per-line errors."""
    pending: list[tuple[int, np.ndarray]] = []

    def flush() -> Iterator[dict]:
        if pending:
            probs = clf.probabilities_from_ids(np.stack([ids for _, ids in pending]))
            for (n, _), p in zip(pending, probs):
                yield {"line": n, **clf.prediction(float(p)).to_dict()}
        pending.clear()

    for n, raw in _lines(source):
        try:
            ids = clf.tokenizer.encode(_parse(raw))
        except ValueError as exc:  # InputError/InputTypeError are ValueErrors too
            yield from flush()
            yield {"line": n, "error": str(exc)}
            continue
        pending.append((n, ids))
        if len(pending) >= STREAM_CHUNK:
            yield from flush()
    yield from flush()


@app.command()
@friendly_errors
def benchmark(
    bundle: Path = typer.Argument(..., help="A bundle directory (it holds model.keras, so Keras is measured too)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Report directory (default: BUNDLE/../report)."),
    quick: bool = typer.Option(False, "--quick", help="A small, fast run for smoke tests."),
    batch_sizes: Optional[str] = typer.Option(None, help="Throughput batch sizes, e.g. 1,16,64,256 (the default; "
                                                          "1,16 with --quick)."),
    threads: int = typer.Option(1, min=1, help="Engine intra-op threads for the latency rows."),
) -> None:
    """Latency (p50/p95/p99), throughput, cold start, RSS, size and accuracy of every artifact vs Keras, in one run."""
    _quiet_tensorflow()
    from edge_sentiment.benchmarks.harness import run_benchmark

    out = out or bundle.parent / "report"
    try:
        sizes = tuple(int(b) for b in batch_sizes.split(",") if b.strip()) if batch_sizes else None
    except ValueError:
        raise ValueError(f"--batch-sizes must be a comma list of positive integers, got {batch_sizes!r}") from None
    if sizes is not None and (not sizes or min(sizes) < 1):
        raise ValueError(f"--batch-sizes must be a comma list of positive integers, got {batch_sizes!r}")
    run_benchmark(bundle, out, quick=quick, batch_sizes=sizes, threads=threads, progress=_say)
    typer.echo(_sections((out / "report.md").read_text(encoding="utf-8"), ("Headline", "Goals")))
    typer.echo(f"report -> {out / 'report.md'}")


def _sections(markdown: str, titles: tuple[str, ...]) -> str:
    """The named '## ' sections of a report, for the terminal."""
    keep, out = False, []
    for line in markdown.splitlines():
        if line.startswith("## "):
            keep = line[3:].strip() in titles
        if keep:
            out.append(line)
    return "\n".join(out)


@app.command()
@friendly_errors
def pipeline(
    out: Path = typer.Option(Path("artifacts/default"), "--out", "-o", help="Folder for model/, bundle/, report/."),
    data: DataSource = "bundled",
    path: DataPath = None,
    epochs: Epochs = 10,
    limit: TrainLimit = None,
    gate_limit: GateLimit = None,
    quick: bool = typer.Option(False, "--quick", help="Quick benchmark."),
    force: Force = False,
) -> None:
    """The whole job: data -> train -> convert -> verify -> benchmark, with a final summary."""
    _quiet_tensorflow()
    import time

    from edge_sentiment.benchmarks.harness import run_benchmark
    from edge_sentiment.converters.bundle_writer import convert_model_dir
    from edge_sentiment.converters.verify import format_table
    from edge_sentiment.toolkit.model import ModelConfig
    from edge_sentiment.toolkit.train import TrainConfig, fit_from_options

    start = time.perf_counter()
    _say("[1/3] train")
    t, m = TrainConfig(), ModelConfig()  # the documented defaults, as `train` uses them
    metrics = fit_from_options(out / "model", data, path, epochs, t.batch_size, t.learning_rate, m.vocab_size,
                               m.max_len, limit, t.seed, force, verbose=1 if sys.stdout.isatty() else 2)
    _say("[2/3] convert + parity gate")
    _, results = convert_model_dir(out / "model", out / "bundle", precisions=("float32", "int8", "int8-full"),
                                   limit=gate_limit, force=force, progress=_say)
    _say("[3/3] benchmark")
    run_benchmark(out / "bundle", out / "report", quick=quick, progress=_say)
    report_md = out / "report" / "report.md"
    typer.echo(f"\nKeras test accuracy {metrics['test_accuracy']:.4f} (val {metrics['val_accuracy']:.4f}; "
               f"{metrics['data']['train']:,} train / {metrics['data']['test']:,} test reviews)\n")
    typer.echo(format_table(results))
    typer.echo("\n" + _sections(report_md.read_text(encoding="utf-8"), ("Headline", "Which to ship", "Goals")))
    typer.echo(f"\ndone in {time.perf_counter() - start:.0f} s: model -> {out / 'model'}, bundle -> {out / 'bundle'}, "
               f"report -> {report_md}")
