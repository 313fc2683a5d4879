"""The CLI through Typer's runner: help, predict (text and streams), verify, and clear errors without tracebacks."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from edge_sentiment.toolkit.cli import app

runner = CliRunner()


@pytest.mark.parametrize("command", ["train", "convert", "verify", "predict", "benchmark", "pipeline"])
def test_every_command_has_help(command):
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0 and "Usage" in result.output


@pytest.mark.slow
def test_predict_one_text(tiny_bundle):
    result = runner.invoke(app, ["predict", str(tiny_bundle), "A superb, moving film", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["label"] in ("positive", "negative") and 0.5 <= out["score"] <= 1
    plain = runner.invoke(app, ["predict", str(tiny_bundle), "A superb, moving film", "--backend", "tflite"])
    assert plain.exit_code == 0 and plain.stdout.split("\t")[0] == out["label"]


@pytest.mark.slow
def test_predict_stream_keeps_line_numbers_and_reports_bad_lines(tiny_bundle, tmp_path):
    lines = [b'\xef\xbb\xbf{"text": "great film"}', b"", b'{"text": "dull and boring"}', b"\xff\xfe broken", b"{oops",
             b"fine acting", b"!!!", b"the end"]
    src = tmp_path / "in.txt"
    src.write_bytes(b"\n".join(lines) + b"\n")
    result = runner.invoke(app, ["predict", str(tiny_bundle), "--input", str(src)])
    assert result.exit_code == 3
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["line"] for r in records] == [1, 2, 3, 4, 5, 6, 7, 8]
    assert ["error" in r for r in records] == [False, True, False, True, True, False, True, False]
    assert "no words" in records[6]["error"]
    assert "not UTF-8" in records[3]["error"] and "invalid JSON" in records[4]["error"]
    piped = runner.invoke(app, ["predict", str(tiny_bundle), "-i", "-"], input="great film\nfine acting\n")
    # the BOM-prefixed JSON line was read as JSON, i.e. as the text "great film"
    assert piped.exit_code == 0
    assert [json.loads(x)["label"] for x in piped.stdout.splitlines()] == [records[0]["label"], records[5]["label"]]


@pytest.mark.slow
def test_verify_passes_on_a_good_bundle_and_never_rewrites_it(bundle_copy):
    before = (bundle_copy / "manifest.json").read_bytes()
    result = runner.invoke(app, ["verify", str(bundle_copy), "--limit", "200", "--json"])
    assert result.exit_code == 0, result.output
    assert all(r["passed"] for r in json.loads(result.stdout))
    strict = runner.invoke(app, ["verify", str(bundle_copy), "--limit", "50", "--float-tol", "0"])
    assert strict.exit_code == 1 and "gate failed for" in strict.output
    assert (bundle_copy / "manifest.json").read_bytes() == before


@pytest.mark.parametrize(
    ("args", "message"),
    [(["predict", "/nonexistent/bundle", "hi"], "does not exist"),
     (["predict", "/tmp", "hi"], "manifest.json is missing"),
     (["convert", "/nonexistent/model", "--out", "{tmp}/bundle"], "model.keras is missing"),
     (["train", "--data", "kaggle", "--out", "{tmp}/model"], "unknown data source"),
     (["train", "--data", "file", "--out", "{tmp}/model"], "needs --path"),
     (["benchmark", "/nonexistent/bundle", "--batch-sizes", "1,0"], "positive integers")],
)
def test_errors_are_one_line_messages(args, message, tmp_path):
    result = runner.invoke(app, [a.format(tmp=tmp_path) for a in args])
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output


@pytest.mark.slow
def test_unwritable_output_is_a_clear_error(tiny_model_dir):
    result = runner.invoke(app, ["convert", str(tiny_model_dir), "--out", "/proc/edge-sentiment-bundle"])
    assert result.exit_code == 2 and "error:" in result.output and "Traceback" not in result.output


@pytest.mark.slow
def test_predict_refuses_empty_text_and_bad_backend(tiny_bundle):
    empty = runner.invoke(app, ["predict", str(tiny_bundle), "   "])
    assert empty.exit_code == 2 and "empty" in empty.output
    wrong = runner.invoke(app, ["predict", str(tiny_bundle), "hi", "--backend", "coreml"])
    assert wrong.exit_code == 2 and "no coreml/int8 artifact" in wrong.output


@pytest.mark.slow
def test_pipeline_end_to_end_small(tmp_path):
    """The README's main job, shrunk: 3,000 real reviews, 2 epochs, gate on 300, quick benchmark (~40 s)."""
    out = tmp_path / "run"
    result = runner.invoke(app, ["pipeline", "--out", str(out), "--limit", "3000", "--epochs", "2",
                                 "--gate-limit", "300", "--quick"])
    assert result.exit_code == 0, result.output
    for path in ("model/model.keras", "bundle/manifest.json", "bundle/model_int8.onnx", "bundle/model_int8.tflite",
                 "bundle/model_int8_full.tflite", "report/report.md", "report/latency.png"):
        assert (out / path).is_file(), path
    manifest = json.loads((out / "bundle" / "manifest.json").read_text())
    assert manifest["verified"] is True
    assert not next(a for a in manifest["artifacts"] if a["precision"] == "int8-full")["verified"]  # too big: 174 %
    assert "Keras test accuracy" in result.stdout and "## Which to ship" in result.stdout
