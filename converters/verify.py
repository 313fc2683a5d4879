"""The parity gate: every artifact, run by its real engine through the runtime's own backend, against Keras on
real held-out reviews tokenized by the runtime's tokenizer.

Layers (shared/DESIGN.md): float32 max |dp| <= 1e-5; int8 label agreement >= 99.5 % and accuracy within 0.5 pt
of Keras; structure (one bidirectional LSTM and no Loop in ONNX, builtin ops only in TFLite, int8 <= 30 % of its
float twin). A failure is a :class:`ParityError` naming the artifact and the figure.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from edge_sentiment.runtime.backends import make_backend
from edge_sentiment.runtime.errors import EdgeSentimentError


class ParityError(EdgeSentimentError):
    """One or more artifacts failed the gate."""


@dataclass(frozen=True)
class Thresholds:
    float_max_abs_diff: float = 1e-5  # float32 artifacts: max |p - p_keras|
    int8_min_agreement: float = 0.995  # int8 artifacts: share of labels equal to Keras'
    int8_max_accuracy_drop: float = 0.005  # int8 artifacts: Keras accuracy minus artifact accuracy
    int8_max_size_ratio: float = 0.30  # int8 file size / float32 twin's


@dataclass
class ParityResult:
    format: str
    precision: str
    file: str
    n: int  # held-out reviews compared
    max_abs_diff: float
    mean_abs_diff: float
    agreement: float
    accuracy: float
    keras_accuracy: float
    bytes: int
    structure: dict = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures

    def to_dict(self) -> dict:
        return {**asdict(self), "passed": self.passed}


def keras_probabilities(model, ids: np.ndarray) -> np.ndarray:
    """The reference: Keras in inference mode, on exactly the ids the artifacts see."""
    return model.predict(ids, batch_size=512, verbose=0).reshape(-1).astype(np.float64)


def check_artifact(path: Path, fmt: str, precision: str, ids: np.ndarray, labels: np.ndarray,
                   reference: np.ndarray, thresholds: Thresholds, float_twin_bytes: int | None,
                   info: dict | None = None) -> ParityResult:
    """Run one artifact through its real engine and apply the gate's thresholds. ``info`` is the artifact's
    ``describe()`` when the caller already has it (describing a 5 MB unrolled TFLite graph takes a while)."""
    probs = make_backend(fmt, path).run(ids).astype(np.float64)
    diff = np.abs(probs - reference)
    pred, ref_pred = probs >= 0.5, reference >= 0.5  # the runtime's rule: P(positive) >= 0.5 is positive
    result = ParityResult(
        format=fmt, precision=precision, file=path.name, n=len(ids),
        max_abs_diff=float(diff.max()), mean_abs_diff=float(diff.mean()),
        agreement=float(np.mean(pred == ref_pred)), accuracy=float(np.mean(pred == labels)),
        keras_accuracy=float(np.mean(ref_pred == labels)), bytes=path.stat().st_size,
    )
    t = thresholds
    # Comparisons are written "not (value <= limit)" so that a NaN anywhere fails instead of slipping through.
    if not np.all(np.isfinite(probs)) or not np.all((probs >= 0) & (probs <= 1)):
        result.failures.append("outputs are not probabilities (NaN, inf or outside [0, 1])")
    if precision == "float32":
        if not result.max_abs_diff <= t.float_max_abs_diff:
            result.failures.append(f"max |dp| {result.max_abs_diff:.2e} > {t.float_max_abs_diff:.0e}")
    else:
        if not result.agreement >= t.int8_min_agreement:
            result.failures.append(f"label agreement {result.agreement:.2%} < {t.int8_min_agreement:.1%}")
        drop = result.keras_accuracy - result.accuracy
        if not drop <= t.int8_max_accuracy_drop:
            result.failures.append(f"accuracy {result.accuracy:.4f} is {drop * 100:.2f} pt below Keras' "
                                   f"{result.keras_accuracy:.4f} (limit {t.int8_max_accuracy_drop * 100:.1f} pt)")
        if not float_twin_bytes:
            result.failures.append("no float32 twin in the bundle to compare its size with")
        else:
            ratio = result.bytes / float_twin_bytes
            result.structure["size_ratio_vs_float32"] = round(ratio, 4)
            if not ratio <= t.int8_max_size_ratio:
                result.failures.append(f"size {ratio:.0%} of float32 > {t.int8_max_size_ratio:.0%}")
    result.structure.update(check_structure(path, fmt, result.failures, info))
    return result


def check_structure(path: Path, fmt: str, failures: list[str], info: dict | None = None) -> dict:
    """ONNX: one bidirectional (DynamicQuantize)LSTM, no Loop. TFLite: builtin ops only (no Flex/custom ops)."""
    if fmt == "onnx":
        from edge_sentiment.converters.to_onnx import describe

        info = info or describe(path)
        if info["lstm_directions"] != ["bidirectional"]:
            failures.append(f"expected one bidirectional LSTM node, found {info['lstm_directions']}")
        if "Loop" in info["ops"] or "Scan" in info["ops"]:
            failures.append("graph contains a Loop/Scan: the LSTM was not fused")
        return {"ops": info["ops"], "opset": info["opset"]}
    from edge_sentiment.converters.to_tflite import describe

    info = info or describe(path)
    builtin = set(_tflite_builtin_names())
    foreign = sorted(op for op in info["ops"] if op not in builtin or op == "CUSTOM")  # Flex*/custom by name
    if foreign:
        failures.append(f"non-builtin ops {foreign}: the file needs the Flex delegate or custom kernels")
    return {"ops": info["ops"], "subgraphs": info["subgraphs"], "builtin_only": not foreign}


def _tflite_builtin_names() -> list[str]:
    from tensorflow.lite.python import schema_py_generated as schema

    return [k for k in vars(schema.BuiltinOperator) if not k.startswith("_")]


def format_table(results: list[ParityResult]) -> str:
    """A fixed-width table for the terminal: one row per artifact."""
    head = f"{'artifact':<18}{'n':>6}{'max|dp|':>10}{'mean|dp|':>10}{'agree':>8}{'acc':>8}{'keras':>8}{'MB':>7}  result"
    rows = [head, "-" * len(head)]
    for r in results:
        verdict = "PASS" if r.passed else "FAIL: " + "; ".join(r.failures)
        rows.append(f"{r.format + '/' + r.precision:<18}{r.n:>6}{r.max_abs_diff:>10.2e}{r.mean_abs_diff:>10.2e}"
                    f"{r.agreement:>8.2%}{r.accuracy:>8.4f}{r.keras_accuracy:>8.4f}{r.bytes / 1e6:>7.2f}  {verdict}")
    return "\n".join(rows)
