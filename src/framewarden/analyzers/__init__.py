"""Analyzers: frames in, detections out. One module per backend."""

from framewarden.analyzers.base import (
    Analyzer,
    AnalyzerConfig,
    Box,
    Detection,
    SharedAnalyzers,
    available,
    build,
    config_for,
    load_backends,
    register,
)

__all__ = [
    "Analyzer",
    "AnalyzerConfig",
    "Box",
    "Detection",
    "SharedAnalyzers",
    "available",
    "build",
    "config_for",
    "load_backends",
    "register",
]
