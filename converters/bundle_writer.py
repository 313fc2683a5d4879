"""model directory -> converted, gated bundle, written atomically; and re-verification of an existing bundle.

A convert killed at any point leaves the previous bundle (or none), never a half one: everything is built in a
``.NAME.partial-*`` directory beside the target and renamed into place only after the gate passed. When the gate
fails, the candidate is kept for inspection at ``NAME.unverified`` and the target is left untouched.
"""

from __future__ import annotations

import json
import platform
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from edge_sentiment.converters import to_onnx, to_tflite
from edge_sentiment.converters.common import FORMATS, PRECISIONS, ConversionError, SourceModel, load_model_dir
from edge_sentiment.converters.verify import ParityError, ParityResult, Thresholds, check_artifact, keras_probabilities
from edge_sentiment.runtime.atomic import atomic_directory, atomic_write_text
from edge_sentiment.runtime.bundle import BUNDLE_FORMAT, LABELS, MANIFEST, SCHEMA_VERSION, Bundle, sha256_file
from edge_sentiment.runtime.errors import BundleError
from edge_sentiment.runtime.tokenizer import Tokenizer

CONVERTERS = {"onnx": to_onnx, "tflite": to_tflite}
EXPERIMENTAL = {"int8-full"}  # written and measured, but a gate failure does not fail the convert
COPIED = ("model.keras", "tokenizer.json", "metrics.json", "config.json", "training_curves.png")


def artifact_name(fmt: str, precision: str) -> str:
    return f"model_{precision.replace('-', '_')}.{fmt}"


def held_out(data_spec: dict | None, tokenizer: Tokenizer, limit: int | None,
             where: Path) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The model's own test split (rebuilt from the data spec it was trained with) and train ids for calibration."""
    from edge_sentiment.toolkit.data import load_splits

    if not data_spec:
        raise BundleError(f"{where}: no data spec was recorded, so the model's held-out test split cannot be "
                          "rebuilt for the parity gate; re-run `edge-sentiment train`")
    spec = dict(data_spec)
    spec.pop("limit", None)
    splits = load_splits(**spec)
    test = splits.test[:limit] if limit else splits.test
    calibration = tokenizer.encode_batch([t for t, _ in splits.train[:to_tflite.CALIBRATION_SAMPLES]])
    return [t for t, _ in test], np.array([y for _, y in test]), calibration


def reference_model(bundle: Bundle):
    """The bundle's ``model.keras`` (checksummed): the reference that verify and the benchmark compare with."""
    import keras

    entry = bundle.manifest.get("model") or {}
    if "file" not in entry or "sha256" not in entry:
        raise BundleError(f"{bundle.root / MANIFEST} has no model entry: model.keras is needed as the reference")
    bundle.read_checked(entry["file"], entry["sha256"])
    return keras.models.load_model(bundle.root / entry["file"], compile=False)


def convert_model_dir(
    model_dir: str | Path,
    out: str | Path,
    formats: tuple[str, ...] = FORMATS,
    precisions: tuple[str, ...] = ("float32", "int8"),
    thresholds: Thresholds = Thresholds(),
    limit: int | None = None,
    force: bool = False,
    progress: Callable[[str], None] = print,
) -> tuple[dict, list[ParityResult]]:
    """Convert, gate and publish. Raises ParityError (target untouched) when a non-experimental artifact fails."""
    for f in formats:
        if f not in FORMATS:
            raise ConversionError(f"unknown format {f!r}; choose from {', '.join(FORMATS)}")
    for p in precisions:
        if p not in PRECISIONS:
            raise ConversionError(f"unknown precision {p!r}; choose from {', '.join(PRECISIONS)}")
    if not formats or not precisions:
        raise ConversionError("nothing to convert: give at least one --formats and one --precisions value")
    for p in precisions:
        if not any(p in CONVERTERS[f].SUPPORTED for f in formats):
            able = [f for f in FORMATS if p in CONVERTERS[f].SUPPORTED]
            raise ConversionError(f"precision {p} is supported only by {', '.join(able)}; add it to --formats")
    if any(p != "float32" for p in precisions) and "float32" not in precisions:
        precisions = ("float32", *precisions)  # int8 files are gated against their float32 twin (size, parity)
    out = Path(out)
    unverified = out.with_name(out.name + ".unverified")
    results: list[ParityResult] = []
    with atomic_directory(out, force=force) as tmp:  # first: an existing or unwritable --out fails before any work
        source = load_model_dir(model_dir)
        texts, labels, calibration = held_out(source.config.get("data"), source.tokenizer, limit,
                                              source.root / "config.json")
        ids = source.tokenizer.encode_batch(texts)
        progress(f"reference: Keras on {len(ids):,} held-out reviews")
        reference = keras_probabilities(source.model, ids)
        for name in COPIED:
            if (source.root / name).exists():
                shutil.copy2(source.root / name, tmp / name)
        timings: dict[str, float] = {}
        infos: dict[str, dict] = {}  # file -> describe(): computed once, for the gate and the manifest
        for fmt in formats:
            float_bytes = None
            for precision in sorted(precisions, key=PRECISIONS.index):  # float32 first: int8 compares its size
                if precision not in CONVERTERS[fmt].SUPPORTED:
                    progress(f"skip {fmt}/{precision}: not supported by the {fmt} converter")
                    continue
                progress(f"convert {fmt}/{precision}")
                start = time.perf_counter()
                target = tmp / artifact_name(fmt, precision)
                path = CONVERTERS[fmt].convert(source.model, target, precision, calibration)
                timings[f"{fmt}/{precision}"] = round(time.perf_counter() - start, 2)
                progress(f"verify  {fmt}/{precision} on {len(ids):,} reviews")
                infos[path.name] = CONVERTERS[fmt].describe(path)
                result = check_artifact(path, fmt, precision, ids, labels, reference, thresholds, float_bytes,
                                        infos[path.name])
                if precision == "float32":
                    float_bytes = result.bytes
                results.append(result)
        manifest = build_manifest(source, tmp, results, infos, thresholds, timings)
        atomic_write_text(tmp / MANIFEST, json.dumps(manifest, indent=2))
        blocking = [r for r in results if not r.passed and r.precision not in EXPERIMENTAL]
        if blocking:
            shutil.rmtree(unverified, ignore_errors=True)
            shutil.move(str(tmp), unverified)
            tmp.mkdir()  # an empty stand-in: raising below makes the context manager drop it, target untouched
            failures = "; ".join(f"{r.format}/{r.precision}: {', '.join(r.failures)}" for r in blocking)
            raise ParityError(f"parity gate failed ({failures}). {out} was left as it was; the candidate is at "
                              f"{unverified} for inspection")
    shutil.rmtree(unverified, ignore_errors=True)
    return manifest, results


def build_manifest(source: SourceModel, root: Path, results: list[ParityResult], infos: dict[str, dict],
                   thresholds: Thresholds, timings: dict[str, float]) -> dict:
    artifacts = []
    for r in results:
        path = root / r.file
        info = infos[r.file]
        artifacts.append({
            "format": r.format, "precision": r.precision, "file": r.file, "sha256": sha256_file(path),
            "bytes": path.stat().st_size, "inputs": info["inputs"], "outputs": info["outputs"],
            "verified": r.passed, "parity": r.to_dict(), "convert_seconds": timings.get(f"{r.format}/{r.precision}"),
        })
    metrics = {k: v for k, v in source.metrics.items() if k != "history"}
    return {
        "format": BUNDLE_FORMAT,
        "schema_version": SCHEMA_VERSION,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "labels": list(LABELS),
        "tokenizer": {"file": "tokenizer.json", "sha256": sha256_file(root / "tokenizer.json"),
                      "config": asdict(source.tokenizer.config)},
        "model": {"file": "model.keras", "sha256": sha256_file(root / "model.keras"),
                  "config": source.config.get("model")},
        "data": source.config.get("data"),
        "training": metrics,
        "parity_thresholds": asdict(thresholds),
        "verified": all(r.passed for r in results if r.precision not in EXPERIMENTAL),
        "artifacts": artifacts,
        "versions": library_versions(),
    }


def library_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {"python": platform.python_version()}
    for dist in ("edge-sentiment", "tensorflow", "keras", "tf2onnx", "onnx", "onnxruntime", "ai-edge-litert", "numpy"):
        try:
            found[dist] = version(dist)
        except PackageNotFoundError:
            pass
    return found


def verify_bundle(bundle_dir: str | Path, thresholds: Thresholds = Thresholds(), limit: int | None = None,
                  progress: Callable[[str], None] = print) -> list[ParityResult]:
    """Re-run the gate on an existing bundle (checksums first). Read-only: the manifest keeps the figures and the
    trust that ``convert`` recorded, so a verify with looser thresholds or a --limit can never promote an artifact."""
    bundle = Bundle(bundle_dir)
    if not bundle.artifacts:
        raise BundleError(f"{bundle.root / MANIFEST} lists no artifacts: there is nothing to verify")
    tokenizer = bundle.tokenizer()
    for a in bundle.artifacts:
        bundle.read_checked(a.file, a.sha256)  # a corrupt file is refused before any engine touches it
    model = reference_model(bundle)
    texts, labels, _ = held_out(bundle.manifest.get("data"), tokenizer, limit, bundle.root / MANIFEST)
    ids = tokenizer.encode_batch(texts)
    progress(f"reference: Keras on {len(ids):,} held-out reviews")
    reference = keras_probabilities(model, ids)
    results, float_bytes = [], {}
    for a in sorted(bundle.artifacts, key=lambda a: PRECISIONS.index(a.precision)):
        progress(f"verify  {a.key}")
        r = check_artifact(bundle.root / a.file, a.format, a.precision, ids, labels, reference, thresholds,
                           float_bytes.get(a.format) if a.precision != "float32" else None)
        if a.precision == "float32":
            float_bytes[a.format] = r.bytes
        results.append(r)
    return results
