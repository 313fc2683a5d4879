"""The figures the report measures against (shared/FINDINGS.md and the issues), in one place."""

GOAL_P50_MS = 0.25  # ONNX int8, batch 1, text -> label
GOAL_SPEEDUP = 200.0  # ONNX int8 text -> label vs Keras predict text -> label, p50
GOAL_COLD_MS = 250.0  # fresh process to first prediction, wall clock as the parent sees it
GOAL_RSS_MB = 100.0
GOAL_THROUGHPUT = 8000.0  # reviews/s, any ONNX int8 configuration
GOAL_TOKENIZER = 20_000  # issue #2: average IMDB reviews tokenized per second on one core
GOAL_INT8_MB = 0.75
GOAL_ACCURACY_DROP = 0.005  # int8 accuracy at most 0.5 pt below Keras
