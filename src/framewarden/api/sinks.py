"""Moved to :mod:`framewarden.pipeline.sinks` (engines may not import the API layer).

Kept as a re-export so code written against the old path still imports; new code imports
from :mod:`framewarden.pipeline.sinks`.
"""

from framewarden.pipeline.sinks import (
    DispatchNotifier,
    ServiceAlertSink,
    StoreEvidenceSink,
    StoreResultSink,
    rekognition_labels,
)

__all__ = [
    "DispatchNotifier",
    "ServiceAlertSink",
    "StoreEvidenceSink",
    "StoreResultSink",
    "rekognition_labels",
]
