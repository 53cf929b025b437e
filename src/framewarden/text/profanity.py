"""Profanity and insults through alt-profanity-check's shipped linear model.

The package loads its scikit-learn vectorizer and model when it is imported
(about two seconds), so the import happens on first use, once, under a lock:
importing framewarden stays fast and concurrent first callers wait for one
load instead of racing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from importlib import metadata

import numpy as np

_lock = threading.Lock()
_predict: Callable[[Sequence[str]], np.ndarray] | None = None
DISTRIBUTION = "alt-profanity-check"


def _load() -> Callable[[Sequence[str]], np.ndarray]:
    global _predict
    if _predict is None:
        with _lock:
            if _predict is None:
                from profanity_check import predict_prob

                _predict = predict_prob
    return _predict


def profanity_probabilities(texts: Sequence[str]) -> list[float]:
    """Probability (0-1) that each text is profane or insulting."""
    if not texts:
        return []
    return [float(p) for p in _load()(list(texts))]


def model_version() -> str:
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:  # pragma: no cover - a broken install
        return "unknown"
