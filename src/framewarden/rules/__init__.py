"""Rule models and the evaluator: detections in, verdicts out."""
