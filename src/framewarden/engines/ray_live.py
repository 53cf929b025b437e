"""Live channels on a Ray cluster: one actor per channel, placed by its estimated cost.

Each channel runs in a :class:`ChannelActor`: the same
:class:`~framewarden.pipeline.supervisor.ChannelSupervisor` and
:class:`~framewarden.pipeline.worker.ChannelWorker` as in one process, with its own inference
batcher, writing results, alerts and notifications to the shared store; its events reach the
API through the relay (:mod:`framewarden.engines.ray_events`).  The actor reserves the CPU
share its sampling costs (:mod:`framewarden.engines.capacity`) on the node the ledger chose;
``max_restarts`` lets Ray start it again on another node when its node is lost, and the new
incarnation reads its rule and desired state from the store, so rule changes made meanwhile
hold.  While an actor cannot answer, the API shows its channel ``reconnecting``.

:class:`RayChannelManager` has the surface of
:class:`~framewarden.pipeline.channels.ChannelManager`, so the API uses either unchanged.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from framewarden.actions.controllers import ControllerError
from framewarden.config import Settings
from framewarden.engines.capacity import CapacityError, ChannelCost, CostModel, Ledger, estimate
from framewarden.errors import ConfigError
from framewarden.events import Event
from framewarden.pipeline.channels import (
    DuplicateChannelError,
    UnknownChannelError,
    check_channel_name,
    check_source,
)
from framewarden.pipeline.context import WorkerContext
from framewarden.pipeline.supervisor import ChannelSnapshot
from framewarden.pipeline.worker import ChannelState
from framewarden.rules.models import Rule
from framewarden.rules.resolve import resolve

log = logging.getLogger(__name__)

_CALL_S = 3.0  # how long the API waits for an actor before calling its channel reconnecting
_WATCH_S = 1.0  # how often the manager looks for actors that stopped answering


def cost_model(settings: Settings) -> CostModel:
    return CostModel(
        decode_ms=settings.live_decode_ms,
        keyframe_decode_ms=settings.live_keyframe_decode_ms,
        infer_ms=settings.live_infer_ms,
        fps=settings.live_assumed_fps,
        gop_s=settings.live_assumed_gop_s,
    )


def _controller(given: Any, source: str) -> Any:
    """The channel's controller: built by the API from the operator's settings (it travels
    pickled, with the policy that checks its URL), or None for the do-nothing one."""
    from framewarden.actions.controllers import build_controller

    if given is not None and hasattr(given, "stop"):
        return given
    return build_controller(None, source=source)


class ChannelActor:
    """One live channel in a Ray worker process (the class Ray wraps as an actor)."""

    def __init__(
        self, name: str, source: str, controller: Any, trusted: bool,
        settings: Settings, relay: Any, start: bool,
    ) -> None:  # fmt: skip
        import ray
        from prometheus_client import CollectorRegistry

        from framewarden.actions.alerts import AlertService
        from framewarden.actions.notifiers import Dispatcher, build_notifiers, parse_target
        from framewarden.engines.ray_events import Forwarder
        from framewarden.events import EventBus
        from framewarden.media.demo import open_source_with_demo
        from framewarden.moderator import Moderator
        from framewarden.pipeline.batcher import InferenceBatcher
        from framewarden.pipeline.metrics import PipelineMetrics
        from framewarden.pipeline.sinks import DispatchNotifier, ServiceAlertSink, StoreResultSink
        from framewarden.pipeline.supervisor import ChannelSupervisor
        from framewarden.pipeline.worker import ChannelSpec, ChannelWorker
        from framewarden.store import channels as channels_repo
        from framewarden.store import notifications as notifications_repo
        from framewarden.store.db import open_database

        logging.basicConfig(level=settings.log_level.upper())
        self.name = name
        self.node = ray.get_runtime_context().get_node_id()
        self.db = open_database(settings, migrate=False)
        self.bus = EventBus()
        self.forwarder = Forwarder(self.bus, relay)
        self.batcher = InferenceBatcher(Moderator(settings=settings), max_batch=8, max_wait_ms=2.0).start()
        self.dispatcher = Dispatcher(
            build_notifiers([parse_target(t) for t in settings.notification_targets], settings),
            recorder=notifications_repo.make_recorder(self.db),
            bus=self.bus,
        )
        # Escalation stays with the API process; this one only raises and groups.
        alerts = ServiceAlertSink(
            AlertService(self.db, self.bus, escalation_s=0, group_s=settings.alert_group_s)
        )
        context = WorkerContext(
            batcher=self.batcher,
            events=self.bus,
            results=StoreResultSink(self.db),
            alerts=alerts,
            notifier=DispatchNotifier(self.dispatcher, alerts, tuple(settings.notify_default)),
            metrics=PipelineMetrics(CollectorRegistry()),
            open_source=open_source_with_demo,
        )
        rule, version = self._stored_rule()
        spec = ChannelSpec(
            name=name, source=source, rule=rule, rule_version=version, trusted=trusted,
            controller=_controller(controller, source),
        )  # fmt: skip
        self.supervisor = ChannelSupervisor(ChannelWorker(spec, context))
        self.incarnation = ray.get_runtime_context().was_current_actor_reconstructed
        if self.incarnation:
            # A restart (node lost): the store says whether the channel should run.
            with self.db.read() as session:
                row = channels_repo.get_channel(session, name=name)
            start = row.desired_state == "running" if row is not None else start
            log.warning("channel %s restarted on node %s", name, self.node)
        if start:
            self.supervisor.start()

    def _stored_rule(self) -> tuple[Rule, int]:
        from framewarden.store import rules as rules_repo

        with self.db.read() as session:
            rows = rules_repo.list_rules(session, enabled=True)
            rules = [Rule.model_validate(r.body) for r in rows]
            versions = {r.id: r.version for r in rows}
        rule = resolve(rules, self.name)
        return rule, versions.get(rule.id, 0)

    def snapshot(self) -> dict[str, Any]:
        out = self.supervisor.snapshot().to_dict()
        out["stats"]["node"] = self.node
        out["stats"]["restarted"] = bool(self.incarnation)
        return out

    def update_rule(self, rule: Rule, version: int) -> None:
        self.supervisor.worker.update_rule(rule, version)

    def start(self) -> None:
        self.supervisor.start()

    def stop(self, timeout: float) -> bool:
        return self.supervisor.stop(timeout)

    def stop_stream(self) -> str:
        """Stop the stream at the server, then the channel; the controller's refusal, or ""."""
        try:
            self.supervisor.worker.spec.controller.stop(self.name)
        except ControllerError as exc:
            return exc.reason
        self.supervisor.stop()
        return ""

    def close(self, timeout: float) -> None:
        self.supervisor.stop(timeout)
        self.batcher.close(timeout)
        self.dispatcher.close(timeout)
        self.forwarder.close()
        self.db.close()


class _Placed:
    """The API's record of one channel actor."""

    def __init__(self, name: str, source: str, trusted: bool, actor: Any, cost: ChannelCost) -> None:
        self.name, self.source, self.trusted, self.actor, self.cost = name, source, trusted, actor, cost
        self.target: tuple[Rule, int] | None = None
        self.admitted_on = ""  # the node admission chose (the actor runs elsewhere after a restart)
        self.last: ChannelSnapshot | None = None
        self.down_since: float | None = None


class RayChannelManager:
    """The live channels of the API, each in a Ray actor somewhere on the cluster."""

    def __init__(
        self,
        context: WorkerContext,
        *,
        rules: Sequence[Rule] = (),
        rule_versions: Mapping[str, int] | None = None,
        settings: Settings,
    ) -> None:
        from framewarden.engines.ray_cluster import connect
        from framewarden.engines.ray_events import Pump, start_relay

        self.context = context  # the API's bus and metrics registry (/metrics)
        self.settings = settings
        self.ray = connect(settings.ray_address or None)
        if settings.db_url.startswith("sqlite") and len(self._nodes()) > 1:
            raise ConfigError(
                "a cluster of several nodes needs a shared database: set database_url to PostgreSQL "
                "(SQLite only works on a one-node cluster)"
            )
        self.costs = cost_model(settings)
        self.ledger = Ledger(settings.live_node_headroom)
        self._rules: tuple[Rule, ...] = tuple(rules)
        self._versions: dict[str, int] = dict(rule_versions or {})
        self._channels: dict[str, _Placed] = {}
        self._lock = threading.RLock()
        self._actor_cls = self.ray.remote(ChannelActor)
        self.relay = start_relay(self.ray, self.ray.get_runtime_context().get_node_id())
        self.pump = Pump(self.ray, self.relay, context.events).start()
        self._gauge = _capacity_gauge(context.metrics.registry)
        self._stop = threading.Event()
        self._watcher = threading.Thread(target=self._watch, name="fw-ray-channels", daemon=True)
        self._watcher.start()

    # --- cluster -------------------------------------------------------------------------
    def _nodes(self) -> dict[str, float]:
        """Alive nodes with CPUs: ``{node_id: CPUs}``."""
        return {
            n["NodeID"]: float(n["Resources"].get("CPU", 0.0))
            for n in self.ray.nodes()
            if n.get("Alive") and n["Resources"].get("CPU", 0.0) > 0
        }

    def capacity(self) -> list[dict[str, Any]]:
        """Each node's CPUs, real-time budget and what channels reserve of it."""
        rooms = self.ledger.rooms(self._nodes())
        for room in rooms:
            for kind, value in (("total", room.cpus), ("budget", room.budget), ("reserved", room.used)):
                self._gauge.labels(room.node, kind).set(value)
        return [
            {"node": r.node, "cpus": r.cpus, "budget": r.budget, "reserved": r.used, "free": r.free}
            for r in rooms
        ]

    # --- channels ------------------------------------------------------------------------
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
        """Admit the channel on the node with the most room and start its actor there."""
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        check_channel_name(name)
        check_source(source, self.settings)
        with self._lock:
            if name in self._channels:
                raise DuplicateChannelError(f"channel {name!r} already exists")
            rule = resolve(self._rules, name)
            interval = rule.trusted_sample_interval_s if trusted and rule.trusted_sample_interval_s else None
            cost = estimate(interval if interval is not None else rule.sample_interval_s, self.costs)
            node = self.ledger.admit(name, cost, self._nodes())
            actor = self._actor_cls.options(
                name=None,
                num_cpus=cost.cpus,
                max_restarts=self.settings.ray_max_restarts,
                max_concurrency=4,  # a snapshot answers while a stop drains
                scheduling_strategy=NodeAffinitySchedulingStrategy(node, soft=True),
            ).remote(name, source, controller, trusted, self.settings, self.relay, start)
            placed = _Placed(name, source, trusted, actor, cost)
            placed.admitted_on = node
            placed.target = (rule, self._versions.get(rule.id, 0))
            self._channels[name] = placed
        self.capacity()
        log.info("channel %s placed on node %s (%.2f CPU)", name, node, cost.cpus)
        return self.snapshot(name)

    def remove(self, name: str, *, timeout: float = 30.0) -> None:
        placed = self._get(name)
        self._call(placed, "close", timeout, wait=timeout + _CALL_S)
        self.ray.kill(placed.actor, no_restart=True)
        with self._lock:
            self._channels.pop(name, None)
        self.ledger.release(name)
        self.capacity()

    def start(self, name: str) -> ChannelSnapshot:
        self._call(self._get(name), "start")
        return self.snapshot(name)

    def stop(self, name: str, *, timeout: float = 30.0) -> ChannelSnapshot:
        self._call(self._get(name), "stop", timeout, wait=timeout + _CALL_S)
        return self.snapshot(name)

    def stop_stream(self, name: str) -> ChannelSnapshot:
        refused = self._call(self._get(name), "stop_stream", wait=60.0)
        if refused:
            raise ControllerError(name, str(refused))
        return self.snapshot(name)

    def snapshot(self, name: str) -> ChannelSnapshot:
        return self._snapshot(self._get(name))

    def snapshots(self) -> list[ChannelSnapshot]:
        with self._lock:
            placed = sorted(self._channels.values(), key=lambda p: p.name)
        return [self._snapshot(p) for p in placed]

    def names(self) -> list[str]:
        with self._lock:
            return sorted(self._channels)

    def __contains__(self, name: object) -> bool:
        with self._lock:
            return name in self._channels

    def close(self, timeout: float = 30.0) -> None:
        """Stop every channel (gracefully), then the relay."""
        self._stop.set()
        with self._lock:
            placed = list(self._channels.values())
        refs = [p.actor.close.remote(timeout) for p in placed]
        if refs:
            try:
                self.ray.wait(refs, num_returns=len(refs), timeout=timeout + _CALL_S)
            except Exception:
                log.exception("closing channel actors failed")
        for p in placed:
            self.ray.kill(p.actor, no_restart=True)
        self.pump.close()
        self.ray.kill(self.relay, no_restart=True)

    # --- rules ---------------------------------------------------------------------------
    @property
    def rules(self) -> tuple[Rule, ...]:
        return self._rules

    def rule_of(self, name: str) -> Rule:
        target = self._get(name).target
        return target[0] if target else resolve(self._rules, name)

    def set_rules(self, rules: Sequence[Rule], versions: Mapping[str, int] | None = None) -> set[str]:
        """Send each channel whose resolved rule changed its new rule (others keep their state)."""
        with self._lock:
            self._rules = tuple(rules)
            if versions is not None:
                self._versions = dict(versions)
            affected: dict[str, tuple[_Placed, Rule, int]] = {}
            for name, placed in self._channels.items():
                rule = resolve(self._rules, name)
                version = self._versions.get(rule.id, 0)
                if (rule, version) != placed.target:
                    placed.target = (rule, version)
                    affected[name] = (placed, rule, version)
        for placed, rule, version in affected.values():
            # An actor restarting right now reads the stored rule itself when it comes back.
            self._call(placed, "update_rule", rule, version)
        return set(affected)

    # --- internals -----------------------------------------------------------------------
    def _get(self, name: str) -> _Placed:
        with self._lock:
            try:
                return self._channels[name]
            except KeyError:
                raise UnknownChannelError(name) from None

    def _call(self, placed: _Placed, method: str, *args: Any, wait: float = _CALL_S) -> Any:
        """Call an actor's method; None when the actor cannot answer now (restarting)."""
        try:
            return self.ray.get(getattr(placed.actor, method).remote(*args), timeout=wait)
        except Exception as exc:  # RayActorError, ActorUnavailableError, GetTimeoutError
            log.warning("channel %s: %s not answered: %s", placed.name, method, type(exc).__name__)
            return None

    def _snapshot(self, placed: _Placed) -> ChannelSnapshot:
        raw = self._call(placed, "snapshot")
        if raw is None:
            return self._down(placed)
        snap = _to_snapshot(raw)
        snap.stats["cost"] = placed.cost.to_dict()
        snap.stats["admitted_on"] = placed.admitted_on
        node = str(snap.stats.get("node", ""))
        if node and node != self.ledger.node_of(placed.name):
            self.ledger.moved(placed.name, node)
        placed.last, placed.down_since = snap, None
        return snap

    def _down(self, placed: _Placed) -> ChannelSnapshot:
        """The actor does not answer: its node is lost and Ray is restarting it elsewhere."""
        first = placed.down_since is None
        if first:
            placed.down_since = time.time()
        last = placed.last
        reason = "channel actor restarting (its node was lost)"
        if last is None:
            snap = ChannelSnapshot(
                name=placed.name, source=placed.source, state=ChannelState.RECONNECTING, reason=reason,
                since=placed.down_since or time.time(), rule_id="", rule_version=0, trusted=placed.trusted,
                controller="", restarts=0, reconnects=0, queue_depth=0, stats={},
            )  # fmt: skip
        else:
            stopped = last.state in (ChannelState.STOPPED, ChannelState.ERROR)
            snap = last if stopped else replace(
                last, state=ChannelState.RECONNECTING, reason=reason, since=placed.down_since or time.time()
            )  # fmt: skip
        if first and snap.state is ChannelState.RECONNECTING:
            self.context.events.publish(
                Event("channel_state", {"state": snap.state.value, "reason": reason}, channel=placed.name)
            )
        return snap

    def _watch(self) -> None:
        """Notices lost actors (and publishes ``reconnecting``) even when nobody asks."""
        while not self._stop.wait(_WATCH_S):
            try:
                self.snapshots()
                self.capacity()
            except Exception:
                log.exception("watching channel actors failed")


def _to_snapshot(raw: dict[str, Any]) -> ChannelSnapshot:
    return ChannelSnapshot(
        name=raw["name"],
        source=raw["source"],
        state=ChannelState(raw["state"]),
        reason=raw["reason"],
        since=raw["since"],
        rule_id=raw["rule_id"],
        rule_version=raw["rule_version"],
        trusted=raw["trusted"],
        controller=raw["controller"],
        restarts=raw["restarts"],
        reconnects=raw["reconnects"],
        queue_depth=raw["queue_depth"],
        stats=dict(raw["stats"]),
    )


def _capacity_gauge(registry: Any) -> Any:
    from prometheus_client import Gauge

    try:
        return Gauge(
            "framewarden_capacity_cpus",
            "Live-channel capacity per Ray node: CPUs (total), real-time budget, reserved by channels.",
            ["node", "kind"],
            registry=registry,
        )
    except ValueError:  # already registered by an earlier manager in this process
        return registry._names_to_collectors["framewarden_capacity_cpus"]


__all__ = ["CapacityError", "ChannelActor", "RayChannelManager"]
