"""Calls from the other API processes of a cluster to the one that runs its background work.

Several ``serve --engine ray`` processes may stand behind a load balancer.  One of them, the
*leader*, holds the event relay's name (:mod:`framewarden.engines.ray_events`) and runs what
must run once per cluster: the live channels' actors and their books, video jobs, uploads and
live speech.  The others, *followers*, serve requests and hand every operation on that work to
the leader through the relay actor, which is also the switchboard:

- a follower's :class:`Peer` calls ``call(target, method, args, kwargs)`` on the relay and waits
  for the answer;
- the leader's :class:`Servant` long-polls ``take_calls``, runs each call on its own objects
  (only the methods listed in :data:`ALLOWED`) and posts ``answer``.

Why the relay and not HTTP between API processes: the followers need no address of the leader
(nothing to configure or to allow), the cluster's own authentication covers the calls, and a
leader that is gone is noticed as the relay actor's death (it is owned by the leader's process).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import pickle
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from framewarden.errors import FramewardenError

log = logging.getLogger(__name__)

_POLL_S = 1.0  # the servant's long poll
_CALL_S = 75.0  # a follower's longest wait for an answer (a graceful channel stop takes up to 60 s)

# What followers may ask of the leader: target -> methods.  Anything else is refused there.
_CHANNEL_CALLS = (
    "add remove start stop stop_stream hold snapshot snapshots names contains rule_of set_rules capacity "
    "cluster_metrics"
)
ALLOWED: dict[str, frozenset[str]] = {
    "channels": frozenset(_CHANNEL_CALLS.split()),
    "jobs": frozenset({"enqueue", "stop_running"}),
    "uploads": frozenset({"submit"}),
}


class LeaderUnavailableError(FramewardenError):
    """The API process that runs the cluster's live channels cannot be reached (it is changing)."""


class RemoteCallError(FramewardenError):
    """The leader raised an error that could not travel as itself (its text does)."""


class Switchboard:
    """The relay actor's calls half (an asyncio actor: waiting holds no thread)."""

    def _calls(self) -> dict[str, Any]:
        if not hasattr(self, "_sb"):
            self._sb: dict[str, Any] = {
                "ids": itertools.count(1), "queue": asyncio.Queue(), "waiting": {},
            }  # fmt: skip
        return self._sb

    async def call(
        self, target: str, method: str, args: tuple[Any, ...], kwargs: dict[str, Any], timeout_s: float
    ) -> tuple[bool, Any]:
        """A follower's call: (True, value) or (False, exception); (False, None) on no answer."""
        calls = self._calls()
        call_id = next(calls["ids"])
        answer: asyncio.Future[tuple[bool, Any]] = asyncio.get_running_loop().create_future()
        calls["waiting"][call_id] = answer
        await calls["queue"].put((call_id, target, method, args, kwargs))
        try:
            return await asyncio.wait_for(answer, timeout_s)
        except TimeoutError:
            return False, None
        finally:
            calls["waiting"].pop(call_id, None)

    async def take_calls(self, timeout_s: float) -> list[tuple[Any, ...]]:
        """The leader's long poll: the calls waiting (at least one, or none after ``timeout_s``)."""
        queue = self._calls()["queue"]
        try:
            taken = [await asyncio.wait_for(queue.get(), timeout_s)]
        except TimeoutError:
            return []
        while not queue.empty():
            taken.append(queue.get_nowait())
        return taken

    async def answer(self, call_id: int, ok: bool, value: Any) -> None:
        waiting = self._calls()["waiting"].pop(call_id, None)
        if waiting is not None and not waiting.done():
            waiting.set_result((ok, value))


def portable(exc: BaseException) -> BaseException:
    """``exc`` itself when it survives pickling (the follower raises the same type, so the API
    answers the same status), else a :class:`RemoteCallError` with its text."""
    try:
        back = pickle.loads(pickle.dumps(exc))
        if type(back) is type(exc) and str(back) == str(exc):
            return exc
    except Exception:  # one that cannot travel travels as text below
        pass
    return RemoteCallError(str(exc) or type(exc).__name__)


class Servant:
    """In the leader: runs the followers' calls on ``targets`` (name -> object)."""

    def __init__(self, ray: Any, relay: Any, targets: Mapping[str, Callable[[], Any]]) -> None:
        self._ray, self._relay, self._targets = ray, relay, targets
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(4, thread_name_prefix="fw-servant-call")
        self._thread = threading.Thread(target=self._run, name="fw-servant", daemon=True)

    def start(self) -> Servant:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                calls = self._ray.get(self._relay.take_calls.remote(_POLL_S), timeout=_POLL_S + 10)
            except Exception as exc:
                if self._stop.is_set():
                    return
                log.warning("switchboard: %s", type(exc).__name__)
                self._stop.wait(0.5)
                continue
            for call in calls:
                self._pool.submit(self._serve, *call)

    def _serve(
        self, call_id: int, target: str, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> None:
        try:
            if method not in ALLOWED.get(target, frozenset()) or target not in self._targets:
                raise RemoteCallError(f"{target}.{method} may not be called from another API process")
            ok, value = True, getattr(self._targets[target](), method)(*args, **kwargs)
        except Exception as exc:
            ok, value = False, portable(exc)
        try:
            self._relay.answer.remote(call_id, ok, value)
        except Exception:
            log.warning("switchboard: the answer to %s.%s was not sent", target, method)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(_POLL_S + 2)
        self._pool.shutdown(wait=False, cancel_futures=True)


class Peer:
    """In a follower: calls the leader's objects through the relay found by name."""

    def __init__(self, ray: Any, find_relay: Callable[[], Any]) -> None:
        self._ray, self._find_relay = ray, find_relay

    def call(self, target: str, method: str, *args: Any, timeout_s: float = _CALL_S, **kwargs: Any) -> Any:
        try:
            relay = self._find_relay()
            ok, value = self._ray.get(
                relay.call.remote(target, method, args, kwargs, timeout_s), timeout=timeout_s + 10
            )
        except Exception as exc:  # the relay is gone with its leader, or not found yet
            raise LeaderUnavailableError(
                "the API process that runs the live channels is not reachable (another one is taking "
                "over); retry in a few seconds"
            ) from exc
        if ok:
            return value
        if value is None:
            raise LeaderUnavailableError(f"the leading API process left {method} unanswered")
        raise value


__all__ = [
    "ALLOWED", "LeaderUnavailableError", "Peer", "RemoteCallError", "Servant", "Switchboard", "portable",
]  # fmt: skip
