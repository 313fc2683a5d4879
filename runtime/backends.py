"""One small adapter per inference engine, all with the same interface: int32 ids (n, max_len) -> P(positive) (n,).

Engines are imported inside the constructors, so installing only one of them is enough.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import numpy as np

from edge_sentiment.runtime.errors import BackendUnavailableError, BundleError

BACKENDS = ("onnx", "tflite")
ONNX_ROW_BY_ROW_KEY = "edge_sentiment.row_by_row"  # set by the converter on dynamically quantized models
ONNX_VOCAB_SIZE_KEY = "edge_sentiment.vocab_size"  # embedding rows, set by the converter


class Backend(Protocol):
    name: str
    vocab_size: int | None  # embedding rows when the file tells; the tokenizer's vocab_size must equal it
    concurrent: bool  # True when parallel run() calls actually overlap (the engine releases the GIL, no lock)
    fixed_batch: int | None  # None: any batch in one call; otherwise the artifact's static batch size
    input_length: int  # ids per text the artifact expects

    def run(self, ids: np.ndarray) -> np.ndarray:
        """int32 ids (n, input_length) -> float32 probabilities (n,). Safe to call from many threads."""
        ...


class OnnxBackend:
    """ONNX Runtime on the CPU. ``InferenceSession.run`` is thread-safe, so no lock is needed."""

    name = "onnx"
    concurrent = True  # run() may be called from several threads at once, and they run in parallel

    def __init__(self, model: bytes | str | Path, threads: int = 1) -> None:
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise BackendUnavailableError("the onnx backend needs onnxruntime: pip install onnxruntime") from exc
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads  # 1 thread gives the lowest single-call latency (see benchmarks)
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.log_severity_level = 3
        source = model if isinstance(model, bytes) else str(model)
        try:
            self._session = ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # ORT raises its own Fail/InvalidProtobuf/... types
            raise BundleError(f"ONNX Runtime cannot load {_where(model)}: {str(exc).splitlines()[0][:300]}") from exc
        inp = self._session.get_inputs()[0]
        self._input = inp.name
        self.input_length = _static_dim(inp.shape, 1, model)
        self.fixed_batch = inp.shape[0] if isinstance(inp.shape[0], int) else None
        # Dynamic int8 quantizes activations with one scale per *batch*: fed a batch, a text's score would move
        # with its batch-mates (by up to ~1e-2 on IMDB). Feeding rows singly keeps every score batch-independent;
        # ORT's LSTM gains little from batching anyway, and threads recover the throughput.
        meta = self._session.get_modelmeta().custom_metadata_map
        self.row_by_row = meta.get(ONNX_ROW_BY_ROW_KEY) == "true"
        self.vocab_size = int(meta[ONNX_VOCAB_SIZE_KEY]) if meta.get(ONNX_VOCAB_SIZE_KEY, "").isdigit() else None
        self._chunk = 1 if self.row_by_row else self.fixed_batch  # None: the whole batch in one call

    def run(self, ids: np.ndarray) -> np.ndarray:
        if self._chunk and len(ids) != self._chunk:
            return run_in_chunks(self._run, ids, self._chunk)
        return self._run(ids)

    def _run(self, ids: np.ndarray) -> np.ndarray:
        return self._session.run(None, {self._input: ids})[0].reshape(-1).astype(np.float32, copy=False)


class TfliteBackend:
    """LiteRT (``ai-edge-litert``), or ``tflite-runtime`` where only that is installed. An interpreter is not
    thread-safe, so calls are serialised with a lock; the static batch-1 graph is fed one row at a time."""

    name = "tflite"
    concurrent = False  # one interpreter, one lock: threads are safe but take turns

    def __init__(self, model: bytes | str | Path, threads: int = 1) -> None:
        Interpreter = _litert_interpreter()
        content = model if isinstance(model, bytes) else _read(Path(model))
        try:
            self._interp = Interpreter(model_content=content, num_threads=threads)
            self._interp.allocate_tensors()
        except Exception as exc:
            raise BundleError(f"LiteRT cannot load {_where(model)}: {str(exc).splitlines()[0][:300]}") from exc
        inp = self._interp.get_input_details()[0]
        self._in, self._out = inp["index"], self._interp.get_output_details()[0]["index"]
        self.input_length = _static_dim(list(inp["shape"]), 1, model)
        self.fixed_batch = int(inp["shape"][0])
        self._dtype = inp["dtype"]
        self._lock = threading.Lock()
        self.vocab_size = self._embedding_rows()

    def _embedding_rows(self) -> int | None:
        """Rows of the embedding table: the params of the first GATHER (LiteRT lists ops only via a private API)."""
        try:
            gather = next(op for op in self._interp._get_ops_details() if op["op_name"] == "GATHER")
            shape = self._interp._get_tensor_details(int(gather["inputs"][0]), 0)["shape"]
            return int(shape[0])
        except Exception:  # an API change or an unusual graph: skip the check rather than refuse the model
            return None

    def run(self, ids: np.ndarray) -> np.ndarray:
        with self._lock:
            return run_in_chunks(self._invoke, ids.astype(self._dtype, copy=False), self.fixed_batch)

    def _invoke(self, chunk: np.ndarray) -> np.ndarray:
        self._interp.set_tensor(self._in, chunk)
        self._interp.invoke()
        return self._interp.get_tensor(self._out).reshape(-1)


def run_in_chunks(run: Callable[[np.ndarray], np.ndarray], ids: np.ndarray, batch: int) -> np.ndarray:
    """Feed a static-batch model: full chunks of ``batch`` rows, the last one padded with PAD rows and trimmed."""
    out = np.empty(len(ids), dtype=np.float32)
    for start in range(0, len(ids), batch):
        chunk = ids[start : start + batch]
        if len(chunk) < batch:
            chunk = np.concatenate([chunk, np.zeros((batch - len(chunk), ids.shape[1]), ids.dtype)])
        out[start : start + batch] = run(chunk)[: len(ids) - start]
    return out


def make_backend(name: str, model: bytes | str | Path, threads: int = 1) -> Backend:
    if not isinstance(threads, int) or not 1 <= threads <= 4 * (os.cpu_count() or 1):
        raise ValueError(f"threads must be an int between 1 and {4 * (os.cpu_count() or 1)}, got {threads!r}")
    if name == "onnx":
        return OnnxBackend(model, threads)
    if name == "tflite":
        return TfliteBackend(model, threads)
    raise ValueError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")


def backend_for_file(path: str | Path) -> str:
    suffix = Path(path).suffix.lower()
    if suffix == ".onnx":
        return "onnx"
    if suffix == ".tflite":
        return "tflite"
    raise BundleError(f"{path}: cannot tell the engine from the extension; expected .onnx or .tflite")


def _litert_interpreter():
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        try:
            from tflite_runtime.interpreter import Interpreter
        except ImportError as exc:
            raise BackendUnavailableError(
                "the tflite backend needs LiteRT: pip install 'edge-sentiment[litert]' (or tflite-runtime)") from exc
    return Interpreter


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise BundleError(f"cannot read model file {path}: {exc.strerror or exc}") from exc


def _static_dim(shape: list, axis: int, model: object) -> int:
    if len(shape) != 2 or not isinstance(shape[axis], (int, np.integer)) or shape[axis] <= 0:
        raise BundleError(f"{_where(model)}: input shape {shape} is not (batch, max_len); not an edge-sentiment model")
    return int(shape[axis])


def _where(model: object) -> str:
    return "the in-memory model" if isinstance(model, bytes) else str(model)
