"""Cold start: import + load + first prediction in a fresh process, and that process's own peak RSS."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

# Peak RSS is VmHWM, the peak of the child's own address space: on Linux ru_maxrss survives exec, so a child of this
# TensorFlow-sized process would report our peak. ru_maxrss (KB on Linux) is only the fallback off Linux.
_CHILD = """import time
t0 = time.perf_counter()
import sys
root, fmt, precision, threads, text = sys.argv[1:]
if fmt == "keras":
    import keras
    from edge_sentiment.runtime.bundle import Bundle
    t1 = time.perf_counter()
    b = Bundle(root)
    tok, model = b.tokenizer(), keras.models.load_model(b.root / b.manifest["model"]["file"], compile=False)
    t2 = time.perf_counter()
    label = b.labels[int(float(model.predict(tok.encode_batch([text]), verbose=0).reshape(-1)[0]) >= 0.5)]
else:
    from edge_sentiment.runtime import SentimentClassifier
    t1 = time.perf_counter()
    clf = SentimentClassifier.load(root, fmt, precision, int(threads), allow_unverified=True)
    t2 = time.perf_counter()
    label = clf.predict(text).label
t3 = time.perf_counter()
import json, resource
status = open("/proc/self/status").read() if sys.platform == "linux" else ""
kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
kb = int(status.split("VmHWM:")[1].split()[0]) if "VmHWM:" in status else kb
print(json.dumps({"import_ms": (t1 - t0) * 1e3, "load_ms": (t2 - t1) * 1e3, "first_predict_ms": (t3 - t2) * 1e3,
                  "child_ms": (t3 - t0) * 1e3, "rss_mb": kb * 1.024e-3, "label": label,
                  "tensorflow_loaded": "tensorflow" in sys.modules}))
"""


def cold_start(root: Path, key: str, text: str, threads: int, runs: int) -> dict:
    """Import + load + first predict in fresh processes: timed inside the child from its first line, and by us."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "ABSL_MIN_LOG_LEVEL": "3"}
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", _CHILD, str(root), *key.split("/"), str(threads), text],
                              capture_output=True, text=True, env=env, timeout=300, check=False)
        if proc.returncode != 0:
            return {"key": key, "runs": len(samples), "error": (proc.stderr.strip().splitlines() or ["?"])[-1][:300]}
        samples.append({**json.loads(proc.stdout.strip().splitlines()[-1]),
                        "total_ms": (time.perf_counter() - start) * 1e3})
    numeric = ("import_ms", "load_ms", "first_predict_ms", "child_ms", "total_ms", "rss_mb")
    return {"key": key, "runs": runs, **{k: statistics.median(s[k] for s in samples) for k in numeric},
            "tensorflow_loaded": any(s["tensorflow_loaded"] for s in samples), "samples": samples}
