"""``edge-sentiment``: train, convert, verify, predict, benchmark, and the whole pipeline.

A thin layer over the Python API. Heavy imports (TensorFlow, tf2onnx) happen inside the command bodies, so
``edge-sentiment predict`` starts in milliseconds and never loads TensorFlow.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from edge_sentiment.converters.verify import Thresholds  # light: numpy only, no TensorFlow

# Options several commands share, declared once (help text, range); each command gives its default.
DataSource = Annotated[str, typer.Option(help="bundled (offline IMDB, re-split) | tfds | aclimdb | file")]
DataPath = Annotated[Optional[Path], typer.Option(help="aclImdb folder/tarball, or a .csv/.jsonl for --data file.")]
Epochs = Annotated[int, typer.Option(min=1, help="Upper bound; early stopping on val usually ends sooner.")]
TrainLimit = Annotated[Optional[int], typer.Option(min=1, help="Train on only this many reviews (quick runs).")]
GateLimit = Annotated[Optional[int], typer.Option(min=1, help="Gate on the first N test reviews instead of all.")]
FloatTol = Annotated[float, typer.Option(help="float32: max |p - p_keras|.")]
Int8Agreement = Annotated[float, typer.Option(help="int8: min label agreement with Keras.")]
Int8AccuracyDrop = Annotated[float, typer.Option(help="int8: max accuracy drop vs Keras.")]
Int8SizeRatio = Annotated[float, typer.Option(help="int8: max size as a share of float32.")]
AsJson = Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")]
Force = Annotated[bool, typer.Option("--force", help="Replace existing output.")]

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Train a BiLSTM sentiment model, convert it to TFLite/ONNX (float32 + int8), prove parity, "
                       "serve it without TensorFlow, and benchmark every artifact side by side.")


def _quiet_tensorflow() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("ABSL_MIN_LOG_LEVEL", "3")


def friendly_errors(fn):
    """Known failures become one line on stderr and exit code 2 (1 for a failed parity gate); no tracebacks."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from edge_sentiment.runtime.errors import EdgeSentimentError

        try:
            return fn(*args, **kwargs)
        except ImportError as exc:
            typer.secho(f"error: {exc.name or exc} is not installed; this command needs the training stack: "
                        "pip install 'edge-sentiment[train]'", fg=typer.colors.RED, err=True)
            raise typer.Exit(2) from None
        except (EdgeSentimentError, OSError, ValueError) as exc:  # OSError: no permission, read-only disk, full disk
            from edge_sentiment.converters.verify import ParityError

            typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
            raise typer.Exit(1 if isinstance(exc, ParityError) else 2) from None
        except (typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except Exception as exc:  # a bug: still one line (exit 4, never mistaken for a failed gate)
            typer.secho(f"error: unexpected {type(exc).__name__}: {exc}. Please report it with the command you ran; "
                        "set EDGE_SENTIMENT_DEBUG=1 for the traceback", fg=typer.colors.RED, err=True)
            if os.environ.get("EDGE_SENTIMENT_DEBUG"):
                raise
            raise typer.Exit(4) from None

    return wrapper


def _csv(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


def _say(message: str) -> None:
    typer.secho(message, err=True, fg=typer.colors.BRIGHT_BLACK)


# ---- train -----------------------------------------------------------------------------------------------
@app.command()
@friendly_errors
def train(
    out: Path = typer.Option(Path("artifacts/model"), "--out", "-o", help="Model directory to write."),
    data: DataSource = "bundled",
    path: DataPath = None,
    epochs: Epochs = 10,
    batch_size: int = typer.Option(128, min=1, help="Reviews per training step."),
    learning_rate: float = typer.Option(2e-3, min=1e-9, help="Adam learning rate."),
    vocab_size: int = typer.Option(10_000, help="Tokenizer + embedding size (PAD and OOV included)."),
    max_len: int = typer.Option(200, help="Tokens per review (pad/truncate); the seed used 150."),
    limit: TrainLimit = None,
    seed: int = typer.Option(42, help="Seeds the split, the weights and the shuffling."),
    deterministic: bool = typer.Option(True, help="TF op determinism (bit-exact reruns; may be slower on a GPU)."),
    force: Force = False,
    as_json: AsJson = False,
) -> None:
    """Train the BiLSTM (GPU if TensorFlow sees one) with early stopping on val; report test once."""
    _quiet_tensorflow()
    from edge_sentiment.toolkit.train import fit_from_options

    metrics = fit_from_options(out, data, path, epochs, batch_size, learning_rate, vocab_size, max_len, limit, seed,
                               force, verbose=1 if sys.stdout.isatty() else 2, deterministic=deterministic)
    if as_json:
        typer.echo(json.dumps({k: v for k, v in metrics.items() if k != "history"}, indent=2))
    else:
        typer.echo(f"test accuracy {metrics['test_accuracy']:.4f} (val {metrics['val_accuracy']:.4f}, "
                   f"best epoch {metrics['best_epoch']}/{metrics['epochs_run']}, {metrics['train_seconds']:.0f} s on "
                   f"{metrics['device']}) -> {out}")


# ---- convert / verify ------------------------------------------------------------------------------------
def _thresholds(float_tol: float, int8_agreement: float, int8_accuracy_drop: float, int8_size_ratio: float):
    return Thresholds(float_tol, int8_agreement, int8_accuracy_drop, int8_size_ratio)


@app.command()
@friendly_errors
def convert(
    model_dir: Path = typer.Argument(..., help="A directory written by `edge-sentiment train`."),
    out: Path = typer.Option(Path("artifacts/bundle"), "--out", "-o", help="Bundle directory to write."),
    formats: str = typer.Option("tflite,onnx", help="Comma list: tflite, onnx."),
    precisions: str = typer.Option("float32,int8", help="Comma list: float32, int8, int8-full (TFLite, experimental)."),
    limit: GateLimit = None,
    float_tol: FloatTol = Thresholds.float_max_abs_diff,
    int8_agreement: Int8Agreement = Thresholds.int8_min_agreement,
    int8_accuracy_drop: Int8AccuracyDrop = Thresholds.int8_max_accuracy_drop,
    int8_size_ratio: Int8SizeRatio = Thresholds.int8_max_size_ratio,
    force: Force = False,
    as_json: AsJson = False,
) -> None:
    """Convert to TFLite + ONNX, gate every artifact against Keras, write a verified bundle atomically."""
    _quiet_tensorflow()
    from edge_sentiment.converters.bundle_writer import convert_model_dir
    from edge_sentiment.converters.verify import format_table

    _, results = convert_model_dir(model_dir, out, _csv(formats), _csv(precisions),
                                   _thresholds(float_tol, int8_agreement, int8_accuracy_drop, int8_size_ratio),
                                   limit, force, progress=_say)
    typer.echo(json.dumps([r.to_dict() for r in results], indent=2) if as_json else format_table(results))
    if not as_json:
        typer.echo(f"verified bundle -> {out}")


@app.command()
@friendly_errors
def verify(
    bundle: Path = typer.Argument(..., help="A bundle directory."),
    limit: GateLimit = None,
    float_tol: FloatTol = Thresholds.float_max_abs_diff,
    int8_agreement: Int8Agreement = Thresholds.int8_min_agreement,
    int8_accuracy_drop: Int8AccuracyDrop = Thresholds.int8_max_accuracy_drop,
    int8_size_ratio: Int8SizeRatio = Thresholds.int8_max_size_ratio,
    as_json: AsJson = False,
) -> None:
    """Re-run the parity gate on a bundle (checksums first); exit 1 if any artifact fails."""
    _quiet_tensorflow()
    from edge_sentiment.converters.bundle_writer import EXPERIMENTAL, verify_bundle
    from edge_sentiment.converters.verify import format_table

    results = verify_bundle(bundle, _thresholds(float_tol, int8_agreement, int8_accuracy_drop, int8_size_ratio),
                            limit, progress=_say)
    typer.echo(json.dumps([r.to_dict() for r in results], indent=2) if as_json else format_table(results))
    failed = [f"{r.format}/{r.precision}" for r in results if not r.passed and r.precision not in EXPERIMENTAL]
    if failed:
        typer.secho(f"error: parity gate failed for {', '.join(failed)}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1)


def main() -> None:
    _quiet_tensorflow()
    app()


# The serving-side commands live in their own module to keep files short; importing it registers them on `app`.
from edge_sentiment.toolkit import cli_serving  # noqa: E402,F401
