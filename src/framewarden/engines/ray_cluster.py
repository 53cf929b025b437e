"""Connecting to Ray: one place that knows how framewarden starts or joins a cluster.

Ray is an optional dependency (``pip install framewarden[ray]``); importing this module
without it raises a :class:`~framewarden.errors.FramewardenError` that says how to install it.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from framewarden.errors import FramewardenError

log = logging.getLogger(__name__)

_PATH_VARS = ("PYTHONPATH", "FRAMEWARDEN_DATA_DIR", "FRAMEWARDEN_CONFIG")


class RayUnavailableError(FramewardenError):
    """Ray is not installed or the cluster cannot be reached."""


def import_ray() -> Any:
    try:
        import ray
    except ImportError as exc:  # pragma: no cover - the test extra installs ray
        raise RayUnavailableError("the Ray engine needs Ray: pip install 'framewarden[ray]'") from exc
    return ray


def connect(address: str | None) -> Any:
    """Join the cluster at ``address`` (``auto``, ``ray://host:port``, ``host:port``) or, when
    None, start a private one-node cluster in this process.  Returns the ``ray`` module."""
    global _joined
    ray = import_ray()
    if ray.is_initialized():
        return ray
    # Workers must import framewarden exactly as the driver does (a source checkout included).
    # Only paths travel this way (runtime envs are visible in Ray's dashboard); settings, which
    # may hold secrets, travel pickled with each task.
    env_vars = {k: os.environ[k] for k in _PATH_VARS if k in os.environ}
    # None when there is nothing to pass: a runtime env, even an empty one, keeps Ray from
    # using the workers it started ahead, and a new worker costs a second at a scan's start.
    env = {"env_vars": env_vars} if env_vars else None
    try:
        if address:
            ray.init(address=address, runtime_env=env, log_to_driver=False, logging_level=logging.WARNING)
        else:
            # A private cluster listens on loopback only.  address="local": a new one, never a
            # cluster that `ray start` (or another user) left running on this machine, which a
            # bare ray.init() would join.
            ray.init(
                address="local",
                include_dashboard=False,
                runtime_env=env,
                log_to_driver=False,
                logging_level=logging.WARNING,
                _node_ip_address="127.0.0.1",
            )
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise RayUnavailableError(
            f"cannot reach the Ray cluster at {address or 'a new local one'}: {exc}"
        ) from exc
    _joined = _connection(ray)
    return ray


_joined: tuple[str, str] | None = None  # the connection connect() made (see _connection); None: none


def _connection(ray: Any) -> tuple[str, str]:
    """Which connection this is: the cluster's session (unique per cluster) and this driver's
    job in it (unique within the cluster); a driver's worker id alone repeats across clusters."""
    context = ray.get_runtime_context()
    return (context.get_session_name(), context.get_job_id())


def disconnect() -> None:
    """Leave the cluster if :func:`connect` joined it (a scan's driver, once done): a driver
    left to Python's exit takes about half a second longer to end.  A connection the caller
    made itself (a test's, a notebook's), or made again after connect()'s was shut down, is
    left alone."""
    global _joined
    ray = import_ray()
    joined, _joined = _joined, None
    if joined is not None and ray.is_initialized() and _connection(ray) == joined:
        ray.shutdown()


def node_cpus(ray: Any) -> dict[str, float]:
    """The cluster's live nodes and their CPUs: ``{node_id: CPUs}`` (nodes without CPUs too)."""
    return {n["NodeID"]: float(n.get("Resources", {}).get("CPU", 0.0)) for n in ray.nodes() if n.get("Alive")}


def lost_worker_errors() -> tuple[type[BaseException], ...]:
    """The errors of a task whose worker process or node was lost (not the task's own error):
    the work is submitted again rather than failed."""
    from ray import exceptions as rex

    return (
        rex.WorkerCrashedError,
        rex.NodeDiedError,
        rex.ObjectLostError,
        rex.OwnerDiedError,
        rex.LocalRayletDiedError,
    )


def lost_actor_errors() -> tuple[type[BaseException], ...]:
    """The errors of a call whose actor died or cannot be reached (lost with its node, killed):
    the call's work goes to another actor."""
    from ray.exceptions import ActorDiedError, ActorUnavailableError, RayActorError

    return (ActorDiedError, ActorUnavailableError, RayActorError)
