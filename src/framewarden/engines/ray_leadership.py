"""Several API processes on one Ray cluster: one leads, the others follow, one takes over.

``serve --engine ray`` may run several times behind a load balancer, sharing the database.
What must run once per cluster (the live channels' actors and their books, video jobs,
uploads, live speech) runs in the *leader*: the API process that holds the event relay's name
(:func:`~framewarden.engines.ray_events.claim_relay`).  The others *follow*: they answer reads
and writes of the store themselves and hand every operation on the channels, and every new job
or upload, to the leader through the relay (:mod:`framewarden.engines.ray_switchboard`).
Every API process pumps the relay's events onto its own bus and pushes its own there, so each
WebSocket sees the whole feed.

The relay is owned by the leader's process, so it ends with it; the channel actors and the
nodes' inference actors are detached, so they keep moderating.  A follower looks at the relay
every second; when it is gone, the followers race to claim the name (Ray's named actors make
one win), and the winner adopts the running channel actors (starting those that are not),
resumes the stored jobs and uploads, and serves the others (:class:`ClusterChannels` ``on_lead``).
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from framewarden.config import Settings
from framewarden.engines.ray_events import AnotherApiError, Forwarder, Pump, claim_relay, find_relay
from framewarden.engines.ray_live import RayChannelManager
from framewarden.engines.ray_switchboard import LeaderUnavailableError, Peer, Servant
from framewarden.pipeline.context import WorkerContext
from framewarden.pipeline.supervisor import ChannelSnapshot
from framewarden.rules.models import Rule

log = logging.getLogger(__name__)

_WATCH_S = 1.0  # how often a follower looks whether the leader is still there
_RULES_S = 2.0  # how long a follower keeps the stored rules it read (chat moderation reads them)
_SCRAPE_S = 2.0  # how long a follower's /metrics waits for the leader's channel series

RulesLoader = Callable[[], tuple[list[Rule], dict[str, int]]]


class ClusterChannels:
    """The live channels as one API process sees them: it leads them (a
    :class:`~framewarden.engines.ray_live.RayChannelManager`) or hands every call to the leader.
    Same surface as :class:`~framewarden.pipeline.channels.ChannelManager`."""

    def __init__(
        self,
        context: WorkerContext,
        *,
        load_rules: RulesLoader,
        settings: Settings,
        targets: Mapping[str, Callable[[], Any]] | None = None,
        on_lead: Callable[[], None] = lambda: None,
        claim_s: float = 15.0,
    ) -> None:
        """``targets``: what else followers may call here while this process leads (``jobs``,
        ``uploads``); ``on_lead``: what this process starts when it takes over from a leader
        that is gone (not called when it leads from the start)."""
        from framewarden.engines.ray_cluster import connect

        self.ray = connect(settings.ray_address or None)
        self.settings, self._context, self._load_rules = settings, context, load_rules
        self._targets = dict(targets or {})
        self._on_lead = on_lead
        runtime = self.ray.get_runtime_context()
        self.origin = f"api:{runtime.get_job_id()}"  # this process's stamp on the events it pushes
        self._node = runtime.get_node_id()
        self.manager: RayChannelManager | None = None
        self._servant: Servant | None = None
        self.relay: Any = None
        self.peer = Peer(self.ray, lambda: find_relay(self.ray))
        self._follower_context = self._remote_metrics_context(context)
        self._rules: tuple[float, tuple[Rule, ...]] = (0.0, ())
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None
        relay, leading = claim_relay(self.ray, self._node, claim_s)
        self.relay = relay
        if leading:
            self._lead(relay)
        else:
            log.warning("another API process runs this cluster's live channels: this one follows it")
        self.pump = Pump(self.ray, self._current_relay, context.events, origin=self.origin).start()
        self.forwarder = Forwarder(context.events, None, origin=self.origin, find=self._current_relay)

    # --- leadership ------------------------------------------------------------------------
    @property
    def leading(self) -> bool:
        return self.manager is not None

    def watch(self) -> ClusterChannels:
        """Start looking for a gone leader (after the caller has started what ``on_lead`` uses)."""
        if self._watcher is None:
            self._watcher = threading.Thread(target=self._watch, name="fw-ray-succession", daemon=True)
            self._watcher.start()
        return self

    def _lead(self, relay: Any) -> None:
        rules, versions = self._load_rules()
        self.manager = RayChannelManager(
            self._context, rules=rules, rule_versions=versions, settings=self.settings, relay=relay
        )
        self.relay = relay
        targets = {"channels": lambda: self.manager, **self._targets}
        self._servant = Servant(self.ray, relay, targets).start()

    def _current_relay(self) -> Any:
        return self.relay if self.leading else find_relay(self.ray)

    def _watch(self) -> None:
        while not self._stop.wait(_WATCH_S):
            if self.leading:
                return
            try:
                self._check_leader()
            except Exception:
                log.exception("watching the leading API process failed")

    def _check_leader(self) -> None:
        relay = find_relay(self.ray)
        if relay is not None:
            try:
                self.ray.get(relay.owner.remote(), timeout=5)
                return  # it answers: it leads
            except Exception:  # gone (its name not yet released): try to claim it
                pass
        try:
            relay, leading = claim_relay(self.ray, self._node, claim_s=0)
        except AnotherApiError:  # the old name is still held: next time
            return
        if not leading:
            log.info("another API process took over the live channels")
            return
        started = time.monotonic()
        log.warning("the API process that ran the live channels is gone: this one takes over")
        self._lead(relay)
        self._on_lead()
        log.warning("took over the live channels in %.1f s", time.monotonic() - started)

    # --- the manager's surface ------------------------------------------------------------
    def _ask(self, method: str, *args: Any, **kwargs: Any) -> Any:
        manager = self.manager
        if manager is not None:
            return getattr(manager, method)(*args, **kwargs)
        return self.peer.call("channels", method, *args, **kwargs)

    @property
    def context(self) -> WorkerContext:
        return self.manager.context if self.manager is not None else self._follower_context

    def add(
        self,
        name: str,
        source: str,
        *,
        controller: Any = None,
        trusted: bool = False,
        start: bool = True,
        queue_size: int = 2,
    ) -> ChannelSnapshot:
        return self._ask(
            "add", name, source, controller=controller, trusted=trusted, start=start, queue_size=queue_size
        )

    def hold(self, name: str, source: str, reason: str, *, trusted: bool = False) -> ChannelSnapshot:
        return self._ask("hold", name, source, reason, trusted=trusted)

    def remove(self, name: str, *, timeout: float = 30.0) -> None:
        self._ask("remove", name, timeout=timeout)

    def start(self, name: str) -> ChannelSnapshot:
        return self._ask("start", name)

    def stop(self, name: str, *, timeout: float = 30.0) -> ChannelSnapshot:
        return self._ask("stop", name, timeout=timeout)

    def stop_stream(self, name: str) -> ChannelSnapshot:
        return self._ask("stop_stream", name)

    def snapshot(self, name: str) -> ChannelSnapshot:
        return self._ask("snapshot", name)

    def snapshots(self) -> list[ChannelSnapshot]:
        return self._ask("snapshots")

    def names(self) -> list[str]:
        return self._ask("names")

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and bool(self._ask("contains", name))

    def capacity(self) -> list[dict[str, Any]]:
        return self._ask("capacity")

    def rule_of(self, name: str) -> Rule:
        return self._ask("rule_of", name)

    @property
    def rules(self) -> tuple[Rule, ...]:
        if self.manager is not None:
            return self.manager.rules
        read_at, rules = self._rules
        if time.monotonic() - read_at > _RULES_S:  # the store has what the leader applies
            rules = tuple(self._load_rules()[0])
            self._rules = (time.monotonic(), rules)
        return rules

    def set_rules(self, rules: Sequence[Rule], versions: Mapping[str, int] | None = None) -> set[str]:
        self._rules = (0.0, ())
        return self._ask("set_rules", list(rules), dict(versions) if versions is not None else None)

    def release_orphans(self) -> list[str]:
        """Leading: stop the running actors of channels the store no longer holds."""
        return self.manager.release_orphans() if self.manager is not None else []

    def close(self, timeout: float = 30.0) -> None:
        """Leading: end the relay last (a follower takes over at once); the channel actors keep
        running, detached, and the next leader adopts them."""
        self._stop.set()
        if self._servant is not None:
            self._servant.close()
        if self.manager is not None:
            self.manager.close(timeout)
        self.forwarder.close()
        self.pump.close()
        if self.manager is not None:
            self.ray.kill(self.relay, no_restart=True)

    # --- a follower's /metrics ---------------------------------------------------------------
    def _remote_metrics_context(self, context: WorkerContext) -> WorkerContext:
        from framewarden.engines.ray_metrics import ClusterRegistry

        metrics = copy.copy(context.metrics)
        metrics.registry = ClusterRegistry(context.metrics.registry, self._leader_metrics)
        return replace(context, metrics=metrics)

    def _leader_metrics(self) -> list[Any]:
        try:
            return self.peer.call("channels", "cluster_metrics", timeout_s=_SCRAPE_S)
        except LeaderUnavailableError:
            log.info("metrics: the leading API process did not answer; its channels' series skipped")
            return []


__all__ = ["ClusterChannels"]
