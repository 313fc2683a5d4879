"""Read and verify a bundle: ``manifest.json`` + ``tokenizer.json`` + model files, each with a sha256.

The runtime refuses anything that does not match itself (schema version, checksum, tokenizer config vs the
artifact's input shape) with a message naming the file and what to do, rather than serving a wrong answer.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from edge_sentiment.runtime.errors import BundleError
from edge_sentiment.runtime.tokenizer import Tokenizer

MANIFEST = "manifest.json"
BUNDLE_FORMAT = "edge-sentiment-bundle"
SCHEMA_VERSION = 1
LABELS = ("negative", "positive")
CONVERTIBLE = {("onnx", "float32"), ("onnx", "int8"), ("tflite", "float32"), ("tflite", "int8"),
               ("tflite", "int8-full")}  # what `convert` can write, for hints about what is missing


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class Artifact:
    """One model file of a bundle, as its manifest entry describes it."""

    format: str  # "onnx" | "tflite"
    precision: str  # "float32" | "int8" | "int8-full"
    file: str
    sha256: str
    bytes: int
    verified: bool  # passed the parity gate
    entry: dict  # the whole manifest entry (inputs, outputs, parity figures)

    @property
    def key(self) -> str:
        return f"{self.format}/{self.precision}"


class Bundle:
    """A bundle directory whose manifest has been parsed and checked. Files are checksummed when opened."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise BundleError(f"bundle {self.root} does not exist or is not a directory; "
                              "create one with `edge-sentiment convert MODEL_DIR --out BUNDLE`")
        self.manifest = _read_manifest(self.root / MANIFEST)
        self.labels = tuple(self.manifest.get("labels", LABELS))
        if self.labels != LABELS:  # a swapped pair would silently invert every answer
            raise BundleError(f"{self.root / MANIFEST}: labels {list(self.labels)} must be {list(LABELS)} "
                              "(index 0 = negative, 1 = positive)")
        self.artifacts = [self._artifact(e) for e in self.manifest.get("artifacts", [])]

    def _artifact(self, e: dict) -> Artifact:
        try:
            a = Artifact(e["format"], e["precision"], e["file"], e["sha256"], int(e["bytes"]),
                         e.get("verified", False) is True, e)
        except (KeyError, TypeError, ValueError) as exc:
            raise BundleError(f"{self.root / MANIFEST}: artifact entry {e!r:.120} is malformed ({exc})") from exc
        if (a.format, a.precision) not in CONVERTIBLE:
            raise BundleError(f"{self.root / MANIFEST}: artifact {a.file} has an unknown kind "
                              f"{a.format}/{a.precision}; it was not written by edge-sentiment")
        return a

    def find(self, backend: str, precision: str) -> Artifact:
        for a in self.artifacts:
            if a.format == backend and a.precision == precision:
                return a
        have = ", ".join(a.key for a in self.artifacts) or "none"
        hint = (f"re-run convert with --formats {backend} --precisions {precision}"
                if (backend, precision) in CONVERTIBLE else "choose one of those")
        raise BundleError(f"bundle {self.root} has no {backend}/{precision} artifact (it has: {have}); {hint}")

    def read_checked(self, name: str, expected_sha256: str) -> bytes:
        """File contents, refused if missing or if the sha256 differs from the manifest's."""
        path = self.root / name
        if Path(name).is_absolute() or ".." in Path(name).parts:
            raise BundleError(f"{self.root / MANIFEST}: file name {name!r} points outside the bundle")
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise BundleError(f"bundle file {path} is missing or unreadable ({exc.strerror or exc}); "
                              "re-run `edge-sentiment convert`") from exc
        actual = hashlib.sha256(data).hexdigest()
        if actual != expected_sha256:
            raise BundleError(f"{path} is corrupt: sha256 {actual[:12]}… does not match the manifest's "
                              f"{str(expected_sha256)[:12]}…; re-copy the bundle or re-run `edge-sentiment convert`")
        return data

    def tokenizer(self) -> Tokenizer:
        """The bundle's tokenizer, checksummed and checked against the config the manifest recorded."""
        entry = self.manifest.get("tokenizer") or {}
        if "file" not in entry or "sha256" not in entry:
            raise BundleError(f"{self.root / MANIFEST} has no tokenizer entry; re-run `edge-sentiment convert`")
        tok = Tokenizer.from_json(self.read_checked(entry["file"], entry["sha256"]).decode("utf-8", "replace"),
                                  str(self.root / entry["file"]))
        check_tokenizer_config(tok, entry.get("config"), str(self.root / entry["file"]))
        return tok


def check_tokenizer_config(tok: Tokenizer, recorded: dict | None, where: str) -> None:
    from dataclasses import asdict

    if recorded is not None and asdict(tok.config) != recorded:
        diff = sorted(k for k in recorded if recorded.get(k) != asdict(tok.config).get(k))
        raise BundleError(f"{where}: tokenizer config differs from the manifest's in {diff}; "
                          "the vocab does not belong to this model")


def _read_manifest(path: Path) -> dict:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise BundleError(f"{path} is missing or unreadable ({exc.strerror or exc}): not a bundle, or an "
                          "interrupted convert; re-run `edge-sentiment convert`") from exc
    try:
        manifest = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(f"{path} is not valid JSON ({exc}); the bundle is corrupt, re-run convert") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != BUNDLE_FORMAT:
        raise BundleError(f"{path} is not an edge-sentiment bundle manifest")
    version = manifest.get("schema_version")
    if version != SCHEMA_VERSION:
        raise BundleError(f"{path} has schema_version {version!r}; this edge-sentiment reads {SCHEMA_VERSION}. "
                          "Upgrade edge-sentiment or re-convert the model with this version")
    return manifest
