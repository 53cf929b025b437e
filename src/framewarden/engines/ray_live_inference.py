"""One set of models per node for the live channel actors placed there (``ray_live_shared_inference``).

By default each channel actor loads its own :class:`~framewarden.moderator.Moderator` (one
ONNX Runtime session per model per channel).  With the setting on, the API starts one
:class:`~framewarden.engines.ray_inference.InferenceActor` per node that holds channels, pinned
to that node, and the channel actors there send their sampled frames to it instead: the models
sit in memory once per node and frames of different channels share batches, as in one process.

The actor is the scan engine's :class:`~framewarden.engines.ray_inference.InferenceActor` (a
moderator behind the local :class:`~framewarden.pipeline.batcher.InferenceBatcher`); live
channels call its one-frame ``moderate`` (a channel samples about one frame a second, so there
is nothing to batch on the caller's side) and look their actor up by node.

The inference actor is named after its node and the analyzer settings, so a channel actor that
Ray restarts on another node finds that node's actor; where there is none (a node that never held
a channel, a soft placement that landed elsewhere) the channel loads its own models, as without
the setting.  It reserves no CPU of its own: each channel's reservation already counts its
inference (``engines/capacity.py``).
"""

from __future__ import annotations

import hashlib
from concurrent.futures import Future
from typing import Any

from framewarden.config import Settings
from framewarden.media.frame import Frame
from framewarden.result import ModerationResult

_CONCURRENCY = 64  # calls served at once: every channel of the node waits in the same batches


def inference_name(node_id: str, settings: Settings) -> str:
    """The actor's name: its node, and the analyzers it runs (two configurations never share)."""
    what = repr(
        (sorted(settings.analyzers), sorted(settings.analyzer_options.items()), settings.min_confidence)
    )
    return f"framewarden-live-inference-{node_id}-{hashlib.sha256(what.encode()).hexdigest()[:10]}"


def ensure_inference(ray: Any, node_id: str, settings: Settings, *, detached: bool = False) -> Any:
    """The node's inference actor, started (pinned to the node) if it is not running yet.
    ``detached``: it outlives the API process, as the channel actors that use it do."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    from framewarden.engines.ray_events import NAMESPACE
    from framewarden.engines.ray_inference import InferenceActor

    return (
        ray.remote(InferenceActor)
        .options(
            name=inference_name(node_id, settings),
            namespace=NAMESPACE,
            lifetime="detached" if detached else None,
            get_if_exists=True,
            num_cpus=0,
            max_restarts=-1,  # a crashed process starts again in place
            max_task_retries=2,  # and the frames it held are sent again
            max_concurrency=_CONCURRENCY,
            scheduling_strategy=NodeAffinitySchedulingStrategy(node_id, soft=False),
        )
        .remote(None, settings, settings.min_confidence, max_batch=8, max_wait_ms=2.0)
    )


def find_inference(ray: Any, node_id: str, settings: Settings) -> Any | None:
    """In a channel actor: its node's inference actor, or None where the node has none."""
    from framewarden.engines.ray_events import NAMESPACE

    try:
        return ray.get_actor(inference_name(node_id, settings), namespace=NAMESPACE)
    except ValueError:
        return None


class RemoteBatcher:
    """What a channel worker needs of a batcher (``submit``), over the node's inference actor."""

    def __init__(self, actor: Any) -> None:
        self._actor = actor

    def submit(self, frame: Frame) -> Future[ModerationResult]:
        future: Future[ModerationResult] = self._actor.moderate.remote(frame).future()
        return future

    def close(self, timeout: float | None = None) -> None:
        """Nothing to close here: the node's actor is the API's (it ends with it)."""
