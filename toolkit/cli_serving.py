"""The serving-side commands: ``predict`` (TensorFlow-free), ``benchmark`` and ``pipeline``."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Optional

import typer

from edge_sentiment.toolkit.cli import _quiet_tensorflow, _say, app, friendly_errors

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
    threads: int = typer.Option(1, help="Engine intra-op threads."),
    allow_unverified: bool = typer.Option(False, "--allow-unverified", help="Use an artifact that failed the gate."),
    as_json: bool = typer.Option(False, "--json", help="JSON output for a single text."),
) -> None:
    """Classify text with the lightweight runtime (no TensorFlow). Exit 3 if any streamed line could not be read."""
    from edge_sentiment.runtime import SentimentClassifier

    if (text is None) == (input is None):
        raise ValueError("give either TEXT or --input FILE|- (not both, not neither)")
    clf = SentimentClassifier.load(bundle, backend, precision, threads, allow_unverified)
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
        line = raw.decode("utf-8").rstrip("\r\n")
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
    """Classify line by line in chunks; a bad line yields an error record in its place, never shifting others."""
    from edge_sentiment.runtime.tokenizer import check_text

    pending: list[tuple[int, str]] = []

    def flush() -> Iterator[dict]:
        probs = clf.probabilities([t for _, t in pending])
        for (n, _), p in zip(pending, probs):
            yield {"line": n, **clf.prediction(float(p)).to_dict()}
        pending.clear()

    for n, raw in _lines(source):
        try:
            text = _parse(raw)
            check_text(text)
        except ValueError as exc:
            yield from flush()
            yield {"line": n, "error": str(exc)}
            continue
        pending.append((n, text))
        if len(pending) >= STREAM_CHUNK:
            yield from flush()
    yield from flush()
