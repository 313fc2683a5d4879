"""The benchmark harness on the tiny bundle, --quick: the report must be complete and self-consistent.

Nothing here is timed against a goal; speed is measured in benchmarks, not asserted in tests.
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from edge_sentiment.toolkit.cli import app

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def quick_report(tiny_bundle, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    result = CliRunner().invoke(app, ["benchmark", str(tiny_bundle), "--out", str(out), "--quick"])
    assert result.exit_code == 0, result.output
    return out, json.loads((out / "report.json").read_text())


def test_report_files_exist(quick_report):
    out, _ = quick_report
    for name in ("report.md", "report.json", "latency.png", "throughput.png", "size_accuracy.png"):
        assert (out / name).stat().st_size > 0, name
    assert (out / "latency.png").read_bytes()[:4] == b"\x89PNG"
    md = (out / "report.md").read_text()
    for section in ("## Headline", "## Throughput", "## Cold start", "## Which to ship", "## Goals", "## Machine"):
        assert section in md


def test_markdown_shows_the_json_figures(quick_report):
    """Each artifact's headline row carries its JSON p50 and speed-up, so the table and the JSON cannot drift."""
    from edge_sentiment.benchmarks.report import _ms

    out, report = quick_report
    lines = (out / "report.md").read_text().splitlines()
    for row in report["rows"]:
        line = next(x for x in lines if x.startswith(f"| {row['label']}"))
        assert _ms(row["latency"]["text"]["p50_ms"]) in line
        assert f"×{row['speedup']['text']:,.1f}" in line


def test_every_artifact_and_keras_is_a_row(quick_report):
    _, report = quick_report
    keys = {row["key"] for row in report["rows"]}
    assert {"keras/predict", "onnx/float32", "onnx/int8", "tflite/float32", "tflite/int8"} <= keys
    assert any(k.startswith("keras/") and k != "keras/predict" for k in keys)


def test_rows_are_self_consistent(quick_report):
    _, report = quick_report
    for row in report["rows"]:
        lat = row["latency"]["model"]
        assert 0 < lat["p50_ms"] <= lat["p95_ms"] <= lat["p99_ms"], row["key"]
        if not row["key"].startswith("keras/"):
            assert row["bytes"] > 0 and 0 <= row["agreement"] <= 1 and 0 <= row["accuracy"] <= 1
    machine = report["machine"]
    assert machine["cores"] >= 1 and machine["versions"]["onnxruntime"]


def test_cold_start_is_tensorflow_free(quick_report):
    _, report = quick_report
    assert report["cold_start"]
    for run in report["cold_start"]:
        assert run["tensorflow_loaded"] is False and run["total_ms"] > 0 and run["rss_mb"] > 0
