"""Live channels on a Ray cluster: one actor per channel, placed by its estimated cost.

Each channel runs in a :class:`ChannelActor`: the same
:class:`~framewarden.pipeline.supervisor.ChannelSupervisor` and
:class:`~framewarden.pipeline.worker.ChannelWorker` as in one process, with its own inference
batcher, writing results, alerts and notifications to the shared store; its events reach the
API through the relay (:mod:`framewarden.engines.ray_events`).  The actor reserves the CPU
share its sampling costs (:mod:`framewarden.engines.capacity`) on the node the ledger chose;
``max_restarts`` lets Ray start it again on another node when its node is lost, and the new
incarnation reads its rule and desired state from the store, so rule changes made meanwhile
hold.  While an actor cannot answer, the API shows its channel ``reconnecting``; an actor whose
constructor failed (bad settings, a missing model) is not restarted, and its channel shows
``error`` with the reason.  Once the actor has opened its stream, the API costs the channel
again by the stream's real frame rate and keyframe spacing and reports a node past its budget.
Each actor's Prometheus series reach the API's ``/metrics`` (:mod:`framewarden.engines.ray_metrics`);
with ``ray_live_shared_inference`` the actors of a node share its inference actor
(:mod:`framewarden.engines.ray_live_inference`).

:class:`RayChannelManager` has the surface of
:class:`~framewarden.pipeline.channels.ChannelManager`, so the API uses either unchanged.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from framewarden.actions.controllers import ControllerError
from framewarden.config import Settings
from framewarden.engines.capacity import (
    RESIZE_SHARE,
    CapacityError,
    ChannelCost,
    CostModel,
    Ledger,
    NodeRoom,
    StreamShape,
    estimate,
    reestimate,
)
from framewarden.engines.ray_cluster import node_cpus
from framewarden.errors import ConfigError, FramewardenError
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
from framewarden.redact import redact_text
from framewarden.rules.models import Rule
from framewarden.rules.resolve import resolve

log = logging.getLogger(__name__)

_CALL_S = 3.0  # how long the API waits for an actor before calling its channel reconnecting
_WATCH_S = 1.0  # how often the manager looks for actors that stopped answering
_LOST = "channel actor restarting (its node was lost)"
_NAME_S = 15.0  # how long a new actor waits for the name of one just killed (a move, a restart)
CHANNEL_ACTOR_PREFIX = "framewarden-channel-"


def channel_actor_name(name: str) -> str:
    """A detached channel actor's name in Ray's ``framewarden`` namespace."""
    return CHANNEL_ACTOR_PREFIX + name


def settings_digest(settings: Settings) -> str:
    """What a channel actor runs with, as a digest: an API process adopts a running actor only
    when its own settings give the same (a changed configuration starts a new actor).  The
    address each API process listens on differs between them and is left out."""
    import hashlib

    dumped = settings.model_dump_json(exclude={"host", "port"})
    return hashlib.sha256(dumped.encode()).hexdigest()[:16]


class ChannelStartError(FramewardenError):
    """A channel actor could not start (bad settings, a missing model, an import error): its
    redacted reason, raised from the constructor so Ray ends the actor instead of restarting it."""


def start_failure(exc: BaseException) -> str | None:
    """Why an actor's constructor failed, from the error Ray raises on calls to it; None when the
    error is not a failed start (a lost node, a timeout: the actor may still come back)."""
    line = _failure_line(exc)
    return None if line is None else f"channel actor failed to start: {line}"


def _failure_line(exc: BaseException) -> str | None:
    if not getattr(exc, "actor_init_failed", False):
        return None
    # Ray's message is a remote traceback; its last line is "module.Type: message".
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    last = lines[-1] if lines else "unknown error"
    marker = f"{ChannelStartError.__name__}: "
    if marker in last:
        last = last.split(marker, 1)[1]
    return redact_text(last)


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
        settings: Settings, relay: Any, start: bool, detached: bool = False,
    ) -> None:  # fmt: skip
        try:
            self._setup(name, source, controller, trusted, settings, relay, start, detached)
        except Exception as exc:
            # Ray would show a traceback that may quote a URL with its credentials; the API
            # shows the channel `error` with this line instead (and Ray does not restart it).
            # (A shared inference actor that failed to start: its own reason, not Ray's traceback.)
            reason = _failure_line(exc) or redact_text(f"{type(exc).__name__}: {exc}")
            logging.getLogger(__name__).error("channel %s cannot start: %s", name, reason)
            raise ChannelStartError(reason) from None

    def _setup(
        self, name: str, source: str, controller: Any, trusted: bool,
        settings: Settings, relay: Any, start: bool, detached: bool,
    ) -> None:  # fmt: skip
        import ray
        from prometheus_client import CollectorRegistry

        from framewarden.actions.alerts import AlertService
        from framewarden.actions.evidence import EvidenceStore
        from framewarden.actions.evidence_queue import EvidenceUploader
        from framewarden.actions.notifiers import Dispatcher, build_notifiers, parse_target
        from framewarden.engines.ray_events import Forwarder, find_relay
        from framewarden.engines.ray_live_inference import RemoteBatcher, find_inference
        from framewarden.events import EventBus
        from framewarden.media.demo import open_source_with_demo
        from framewarden.moderator import Moderator
        from framewarden.pipeline.batcher import InferenceBatcher
        from framewarden.pipeline.context import preferred_max_side
        from framewarden.pipeline.metrics import PipelineMetrics
        from framewarden.pipeline.sinks import (
            DispatchNotifier,
            ServiceAlertSink,
            StoreEvidenceSink,
            StoreResultSink,
        )
        from framewarden.pipeline.supervisor import ChannelSupervisor
        from framewarden.pipeline.worker import ChannelSpec, ChannelWorker
        from framewarden.store import channels as channels_repo
        from framewarden.store import notifications as notifications_repo
        from framewarden.store.db import open_database

        logging.basicConfig(level=settings.log_level.upper())
        self.name = name
        self.node = ray.get_runtime_context().get_node_id()
        self.settings_digest = settings_digest(settings)
        self.db = open_database(settings, migrate=False)
        self.bus = EventBus()
        # A detached actor outlives the API that started it: it finds the next leader's relay.
        self.forwarder = Forwarder(self.bus, relay, find=(lambda: find_relay(ray)) if detached else None)
        self.shape: StreamShape | None = None  # the stream's own rate and keyframe spacing, once open
        self._opened: Any = None  # the open source (its stats keep the keyframe spacing current)
        self.registry = CollectorRegistry()  # this channel's series; the API's /metrics gathers them
        shared = find_inference(ray, self.node, settings) if settings.ray_live_shared_inference else None
        self.batcher: Any
        if shared is not None:  # the node's models (engines/ray_live_inference.py)
            self.batcher = RemoteBatcher(shared)
            max_side = int(ray.get(shared.max_side.remote()))
        else:
            moderator = Moderator(settings=settings)
            self.batcher = InferenceBatcher(moderator, max_batch=8, max_wait_ms=2.0).start()
            max_side = preferred_max_side(moderator.analyzers)
        self.shared_inference = shared is not None
        self.uploader = EvidenceUploader(
            EvidenceStore.from_settings(settings), max_queue=settings.evidence_queue_size
        ).start()
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
            evidence=StoreEvidenceSink(self.uploader, keep_clean=settings.evidence_keep_clean),
            metrics=PipelineMetrics(self.registry),
            max_side=max_side,
            open_source=self._noting_shape(open_source_with_demo),
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

    def _noting_shape(self, opener: Any) -> Any:
        """The source opener, noting each opened stream's real frame rate and keyframe spacing
        (admission assumed them; the API re-estimates the channel's cost from these)."""

        def open_and_note(source: str, **options: Any) -> Any:
            opened = opener(source, **options)
            self.shape = StreamShape.of(opened) or self.shape
            self._opened = opened  # read again at each snapshot: the spacing as it is now
            return opened

        return open_and_note

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
        out["stats"]["shared_inference"] = self.shared_inference
        if self._opened is not None:
            self.shape = StreamShape.of(self._opened) or self.shape
        if self.shape is not None:
            out["stats"]["stream"] = self.shape.to_dict()
        return out

    def pid(self) -> int:
        """This actor's process (for measuring memory per channel)."""
        import os

        return os.getpid()

    def placement(self) -> dict[str, Any]:
        """Where it runs and what it reserves (an API process that adopts it books these)."""
        import ray

        cpus = ray.get_runtime_context().get_assigned_resources().get("CPU", 0.0)
        return {"node": self.node, "cpus": float(cpus), "settings": self.settings_digest}

    def metrics(self) -> list[Any]:
        """This channel's Prometheus families (frame funnel, latency histograms, ...)."""
        from framewarden.engines.ray_metrics import snapshot_families

        return snapshot_families(self.registry)

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
        self.uploader.close(timeout)
        self.dispatcher.close(timeout)
        self.forwarder.close()
        self.db.close()


class _Placed:
    """The API's record of one channel actor."""

    def __init__(
        self, name: str, source: str, trusted: bool, controller: Any, actor: Any, cost: ChannelCost
    ) -> None:
        self.name, self.source, self.trusted, self.actor, self.cost = name, source, trusted, actor, cost
        self.admitted_cost = cost  # what admission assumed (``cost`` follows the real stream)
        self.controller = controller  # kept to start a new actor after a failed start
        self.target: tuple[Rule, int] | None = None
        self.admitted_on = ""  # the node admission chose (the actor runs elsewhere after a restart)
        self.last: ChannelSnapshot | None = None
        self.down_since: float | None = None
        self.failed = ""  # why its actor could not start ("" = it did, or is still trying)
        self.failed_since = 0.0
        self.shape: StreamShape | None = None  # the stream's real shape, once the actor opened it
        self.over_budget = ""  # what admission should know: its node is past its budget
        self.moves = 0  # times live_rebalance moved it to a node with room

    def interval(self) -> float:
        rule = self.target[0] if self.target else None
        if rule is None:
            return 1.0
        trusted = rule.trusted_sample_interval_s
        return trusted if self.trusted and trusted is not None else rule.sample_interval_s


class RayChannelManager:
    """The live channels of the API, each in a Ray actor somewhere on the cluster."""

    def __init__(
        self,
        context: WorkerContext,
        *,
        rules: Sequence[Rule] = (),
        rule_versions: Mapping[str, int] | None = None,
        settings: Settings,
        relay: Any = None,
    ) -> None:
        """``relay``: the cluster's relay that the caller leads and pumps
        (:class:`~framewarden.engines.ray_leadership.ClusterChannels`); None: a relay of its own.

        With the cluster's relay, the channel actors (and the nodes' inference actors) are
        named and *detached*: they outlive this process, keep moderating, and the next API
        process to lead adopts them (:meth:`add` finds a channel's running actor by name), so
        a takeover or a restart of the API leaves no gap in moderation."""
        from framewarden.engines.ray_cluster import connect
        from framewarden.engines.ray_events import Pump, start_relay
        from framewarden.engines.ray_metrics import ClusterRegistry

        # The API's bus, and its metrics whose registry (/metrics) also gathers the actors' series.
        metrics = copy.copy(context.metrics)
        metrics.registry = ClusterRegistry(context.metrics.registry, self._actor_metrics)
        self.context = replace(context, metrics=metrics)
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
        self._over: set[str] = set()  # nodes past their budget (logged when that changes)
        self.inference: dict[str, Any] = {}  # node -> its shared inference actor (the setting on)
        self._base_registry = context.metrics.registry
        self.detached = relay is not None
        self.relay, self.pump = relay, None
        if relay is None:
            self.relay = start_relay(self.ray, self.ray.get_runtime_context().get_node_id())
            self.pump = Pump(self.ray, lambda: self.relay, context.events).start()
        self._gauge = _gauge(
            context.metrics.registry, "framewarden_capacity_cpus",
            "Live-channel capacity per Ray node: CPUs (total), real-time budget, reserved by channels.",
            ["node", "kind"],
        )  # fmt: skip
        self._over_gauge = _gauge(
            context.metrics.registry, "framewarden_capacity_over_budget_cpus",
            "CPUs that channels re-estimated from their streams' real shape reserve beyond a node's budget.",
            ["node"],
        )  # fmt: skip
        self._stop = threading.Event()
        self._watcher = threading.Thread(target=self._watch, name="fw-ray-channels", daemon=True)
        self._watcher.start()

    # --- cluster -------------------------------------------------------------------------
    def _nodes(self) -> dict[str, float]:
        """Alive nodes with CPUs: ``{node_id: CPUs}``."""
        return {node: cpus for node, cpus in node_cpus(self.ray).items() if cpus > 0}

    def capacity(self) -> list[dict[str, Any]]:
        """Each node's CPUs, real-time budget and what channels reserve of it."""
        rooms = self.ledger.rooms(self._nodes())
        for room in rooms:
            for kind, value in (("total", room.cpus), ("budget", room.budget), ("reserved", room.used)):
                self._gauge.labels(room.node, kind).set(value)
            self._over_gauge.labels(room.node).set(round(max(0.0, room.used - room.budget), 4))
        self._judge_budgets(rooms)
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
        check_channel_name(name)
        check_source(source, self.settings)
        with self._lock:
            if name in self._channels:
                raise DuplicateChannelError(f"channel {name!r} already exists")
            rule = resolve(self._rules, name)
            placed = _Placed(name, source, trusted, controller, None, estimate(1.0, self.costs))
            placed.target = (rule, self._versions.get(rule.id, 0))
            running = self._running_actor(name) if self.detached else None
            if running is None or not self._adopt(placed, running):
                self._place(placed, start)
            self._channels[name] = placed
        self.capacity()
        return self.snapshot(name)

    def hold(self, name: str, source: str, reason: str, *, trusted: bool = False) -> ChannelSnapshot:
        """Keep a stored channel that no longer passes today's checks, in ``error`` with the
        reason and no actor, so that moderators see it (as the one-process manager does)."""
        check_channel_name(name)
        with self._lock:
            if name in self._channels:
                raise DuplicateChannelError(f"channel {name!r} already exists")
            placed = _Placed(name, source, trusted, None, None, estimate(1.0, self.costs))
            rule = resolve(self._rules, name)
            placed.target = (rule, self._versions.get(rule.id, 0))
            placed.failed, placed.failed_since = redact_text(reason), time.time()
            self._channels[name] = placed
        return self.snapshot(name)

    def _running_actor(self, name: str) -> Any | None:
        from framewarden.engines.ray_events import NAMESPACE

        try:
            return self.ray.get_actor(channel_actor_name(name), namespace=NAMESPACE)
        except ValueError:
            return None

    def _adopt(self, placed: _Placed, actor: Any) -> bool:
        """Take over a channel actor that an API process gone (or restarted) left running: book
        its node and reservation as they are, and send it today's rule if it has another.
        False (the actor stopped) when it does not answer or runs with other settings."""
        try:
            where = self.ray.get(actor.placement.remote(), timeout=_CALL_S * 3)
        except Exception as exc:  # restarting, or dead and its name not yet released
            log.warning("channel %s: its running actor does not answer (%s); starting a new one",
                        placed.name, type(exc).__name__)  # fmt: skip
            self.ray.kill(actor, no_restart=True)
            return False
        if where.get("settings") != settings_digest(self.settings):
            log.warning("channel %s: its running actor has other settings; starting a new one", placed.name)
            self._close_actor(actor)
            return False
        node, cpus = str(where["node"]), float(where["cpus"])
        placed.actor, placed.admitted_on = actor, node
        placed.cost = placed.admitted_cost = replace(estimate(placed.interval(), self.costs), cpus=cpus)
        self.ledger.record(placed.name, node, cpus)
        if self.settings.ray_live_shared_inference and node not in self.inference:
            from framewarden.engines.ray_live_inference import ensure_inference

            self.inference[node] = ensure_inference(self.ray, node, self.settings, detached=True)
        raw = self._call(placed, "snapshot")
        rule, version = placed.target if placed.target else (resolve(self._rules, placed.name), 0)
        if raw is not None and (raw["rule_id"], raw["rule_version"]) != (rule.id, version):
            self._call(placed, "update_rule", rule, version)
        log.info("channel %s: adopted its running actor on node %s (%.2f CPU)", placed.name, node, cpus)
        return True

    def _close_actor(self, actor: Any, timeout: float = 10.0) -> None:
        """Stop an actor gracefully (its results flushed), then end it."""
        try:
            self.ray.get(actor.close.remote(timeout), timeout=timeout + _CALL_S)
        except Exception as exc:  # it does not answer: ended all the same
            log.info("closing a channel actor: %s", type(exc).__name__)
        self.ray.kill(actor, no_restart=True)

    def release_orphans(self) -> list[str]:
        """Stop the detached channel actors of channels these books do not hold (deleted, or no
        longer allowed, while no API process led); returns their channels."""
        if not self.detached:
            return []
        from ray.util import list_named_actors

        from framewarden.engines.ray_events import NAMESPACE

        with self._lock:
            held = set(self._channels)
        gone = []
        for entry in list_named_actors(all_namespaces=True):
            name = str(entry.get("name", ""))
            channel = name.removeprefix(CHANNEL_ACTOR_PREFIX)
            if entry.get("namespace") != NAMESPACE or channel == name or channel in held:
                continue
            actor = self._running_actor(channel)
            if actor is not None:
                self.ray.kill(actor, no_restart=True)
                gone.append(channel)
        if gone:
            log.warning(
                "stopped the running actors of channels no longer stored: %s", ", ".join(sorted(gone))
            )
        return gone

    def _place(self, placed: _Placed, start: bool) -> None:
        """Admit ``placed`` by its assumed cost and start its actor on the chosen node."""
        cost = estimate(placed.interval(), self.costs)
        node = self.ledger.admit(placed.name, cost, self._nodes())
        self._start_actor(placed, node, cost.cpus, start)
        placed.cost, placed.admitted_cost, placed.admitted_on = cost, cost, node
        placed.shape, placed.over_budget = None, ""
        log.info("channel %s placed on node %s (%.2f CPU)", placed.name, node, cost.cpus)

    def _start_actor(self, placed: _Placed, node: str, cpus: float, start: bool) -> None:
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        from framewarden.engines.ray_events import NAMESPACE

        if self.settings.ray_live_shared_inference and node not in self.inference:
            from framewarden.engines.ray_live_inference import ensure_inference

            self.inference[node] = ensure_inference(self.ray, node, self.settings, detached=self.detached)
        options: dict[str, Any] = {
            "num_cpus": cpus,
            "max_restarts": self.settings.ray_max_restarts,
            "max_concurrency": 4,  # a snapshot answers while a stop drains
            "scheduling_strategy": NodeAffinitySchedulingStrategy(node, soft=True),
        }
        if self.detached:
            options |= {
                "name": channel_actor_name(placed.name),
                "namespace": NAMESPACE,
                "lifetime": "detached",
            }
        # A detached actor looks the relay up by name: a handle among its constructor's arguments
        # would live in the object store, owned by this process, and a restart of the actor
        # after this process has ended could not read it (ray-project/ray#53727).
        relay = None if self.detached else self.relay
        args = (placed.name, placed.source, placed.controller, placed.trusted, self.settings, relay, start)
        deadline = time.monotonic() + _NAME_S
        while True:
            try:
                placed.actor = self._actor_cls.options(**options).remote(*args, self.detached)
                break
            except ValueError:  # the name of an actor just killed is not released yet
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        placed.failed, placed.last, placed.down_since = "", None, None

    def _rebalance(self) -> None:
        """``live_rebalance``: move one channel whose real cost took its node past its budget to a
        node with room for that cost (one move per pass: the books change with each).

        The move is a new actor reserving the real cost on the other node, started once the old
        one has closed: the channel is not moderated for those seconds (model load, reconnect)."""
        nodes = self._nodes()
        over = self.ledger.over_budget(nodes)
        if not over:
            return
        running = (ChannelState.LIVE, ChannelState.RECONNECTING, ChannelState.STARTING)
        with self._lock:
            grown = [
                p for p in self._channels.values()
                if not p.failed and p.last is not None and p.last.state in running
                and self.ledger.node_of(p.name) in over and p.cost.cpus > p.admitted_cost.cpus
            ]  # fmt: skip
        for placed in sorted(grown, key=lambda p: p.admitted_cost.cpus - p.cost.cpus):
            source = self.ledger.node_of(placed.name) or ""
            target = self.ledger.relocate(placed.name, nodes)
            if target is None:
                continue
            log.warning(
                "channel %s: moving from node %s (past its budget) to node %s, where its %.2f CPU fits",
                placed.name, source, target, placed.cost.cpus,
            )  # fmt: skip
            self._call(placed, "close", 10.0, wait=10.0 + _CALL_S)
            self.ray.kill(placed.actor, no_restart=True)
            self._start_actor(placed, target, placed.cost.cpus, True)
            placed.admitted_on, placed.moves = target, placed.moves + 1
            self.capacity()
            return

    def remove(self, name: str, *, timeout: float = 30.0) -> None:
        placed = self._get(name)
        if not placed.failed:  # an actor that never started has nothing to close
            self._call(placed, "close", timeout, wait=timeout + _CALL_S)
        if placed.actor is not None:  # None: held in error, never placed
            self.ray.kill(placed.actor, no_restart=True)
        with self._lock:
            self._channels.pop(name, None)
        self.ledger.release(name)
        self.capacity()

    def start(self, name: str) -> ChannelSnapshot:
        placed = self._get(name)
        if placed.actor is None:  # held: its stored source or controller is no longer allowed
            raise ConfigError(f"channel {name!r} may not start: {placed.failed}")
        if placed.failed:
            # Its actor never started (a missing model, bad settings): try a new one, which may
            # land on another node and fail again with the same reason if nothing changed.
            with self._lock:
                if placed.actor is not None:
                    self.ray.kill(placed.actor, no_restart=True)
                self._place(placed, True)
            self.capacity()
        else:
            self._call(placed, "start")
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

    def contains(self, name: str) -> bool:
        """``name in manager``, as a method another API process can call."""
        return name in self

    def cluster_metrics(self) -> list[Any]:
        """What another API process's ``/metrics`` adds to its own: the channel actors' series
        and the capacity gauges of these books."""
        self.capacity()
        own = [f for f in self._base_registry.collect() if f.name.startswith("framewarden_capacity")]
        return self._actor_metrics() + own

    def close(self, timeout: float = 30.0) -> None:
        """Stop every channel (gracefully), then the relay; detached actors keep running (the
        next API process to lead adopts them)."""
        self._stop.set()
        with self._lock:
            placed = list(self._channels.values())
        if self.detached:
            log.info("%d channel actor(s) keep running, detached, for the next API process", len(placed))
            return
        refs = [p.actor.close.remote(timeout) for p in placed if p.actor is not None and not p.failed]
        if refs:
            try:
                self.ray.wait(refs, num_returns=len(refs), timeout=timeout + _CALL_S)
            except Exception:
                log.exception("closing channel actors failed")
        for p in placed:
            if p.actor is not None:
                self.ray.kill(p.actor, no_restart=True)
        for actor in self.inference.values():
            self.ray.kill(actor, no_restart=True)
        if self.pump is not None:  # its own relay (a caller's relay is the caller's to end)
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
            placed.shape = None  # a new sampling interval: cost it again at the next snapshot
        return set(affected)

    # --- internals -----------------------------------------------------------------------
    def _get(self, name: str) -> _Placed:
        with self._lock:
            try:
                return self._channels[name]
            except KeyError:
                raise UnknownChannelError(name) from None

    def _call(self, placed: _Placed, method: str, *args: Any, wait: float = _CALL_S) -> Any:
        """Call an actor's method; None when the actor cannot answer now (restarting) or ever
        (its start failed: then the channel is marked failed with the reason)."""
        if placed.failed:
            return None
        try:
            return self.ray.get(getattr(placed.actor, method).remote(*args), timeout=wait)
        except Exception as exc:  # RayActorError, ActorUnavailableError, GetTimeoutError
            reason = start_failure(exc)
            if reason is not None:
                self._fail(placed, reason)
            else:
                log.warning("channel %s: %s not answered: %s", placed.name, method, type(exc).__name__)
            return None

    def _fail(self, placed: _Placed, reason: str) -> None:
        """The actor's constructor raised: the channel is in ``error``, not ``reconnecting``."""
        with self._lock:
            if placed.failed:
                return
            placed.failed, placed.failed_since = reason, time.time()
        log.error("channel %s: %s", placed.name, reason)
        self.context.events.publish(
            Event("channel_state", {"state": ChannelState.ERROR.value, "reason": reason}, channel=placed.name)
        )

    def _failed_snapshot(self, placed: _Placed) -> ChannelSnapshot:
        rule, version = placed.target if placed.target else (resolve(self._rules, placed.name), 0)
        return ChannelSnapshot(
            name=placed.name, source=placed.source, state=ChannelState.ERROR, reason=placed.failed,
            since=placed.failed_since, rule_id=rule.id, rule_version=version, trusted=placed.trusted,
            controller="", restarts=0, reconnects=0, queue_depth=0,
            stats={"cost": placed.cost.to_dict(), "admitted_on": placed.admitted_on},
        )  # fmt: skip

    def _actor_metrics(self) -> list[Any]:
        """The answering actors' Prometheus families (for the API's /metrics)."""
        from framewarden.engines.ray_metrics import gather

        with self._lock:
            actors = [p.actor for p in self._channels.values() if not p.failed and p.actor is not None]
        return gather(self.ray, actors)

    def _snapshot(self, placed: _Placed) -> ChannelSnapshot:
        raw = self._call(placed, "snapshot")
        if placed.failed:
            return self._failed_snapshot(placed)
        if raw is None:
            return self._down(placed)
        snap = _to_snapshot(raw)
        node = str(snap.stats.get("node", ""))
        if node and node != self.ledger.node_of(placed.name):
            self.ledger.moved(placed.name, node)
        shape = raw["stats"].get("stream")
        if shape and (placed.shape is None or shape != placed.shape.to_dict()):
            self._reestimate(placed, StreamShape(shape.get("fps"), shape.get("gop_s")))
        snap.stats["cost"] = placed.cost.to_dict()
        snap.stats["admitted_on"] = placed.admitted_on
        if placed.moves:
            snap.stats["moved_for_room"] = placed.moves
        if placed.over_budget:
            snap.stats["over_budget"] = placed.over_budget
            if snap.state is ChannelState.LIVE and not snap.reason:
                snap = replace(snap, reason=placed.over_budget)
        placed.last, placed.down_since = snap, None
        return snap

    def _reestimate(self, placed: _Placed, shape: StreamShape) -> None:
        """The stream is open: cost the channel by its real frame rate and keyframe spacing and
        update its reservation in the books (:meth:`capacity` then says whether its node is now
        past its budget).

        Ray's own reservation (the actor's ``num_cpus``) stays what admission gave it: changing
        it means a new actor (a gap in moderation); the books, admission and ``/metrics`` use
        the new figure, so new channels go elsewhere."""
        placed.shape = shape
        cost = reestimate(placed.interval(), self.costs, shape)
        old = placed.cost
        if abs(cost.cpus - old.cpus) > RESIZE_SHARE * old.cpus:
            placed.cost = cost
            self.ledger.resize(placed.name, cost.cpus)
            log.info(
                "channel %s: its stream runs at %s fps with keyframes every %s s: %.2f CPU, not %.2f",
                placed.name, shape.fps, shape.gop_s, cost.cpus, old.cpus,
            )  # fmt: skip
            self.capacity()

    def _judge_budgets(self, rooms: Sequence[NodeRoom]) -> None:
        """Tell every channel of a node past its budget (reason, ``stats.over_budget``), and log
        when a node goes past it or comes back."""
        over = {r.node: r for r in rooms if r.used > r.budget + 1e-9}
        with self._lock:
            placed = list(self._channels.values())
            went_over, came_back = set(over) - self._over, self._over - set(over)
            self._over = set(over)
        for node in sorted(went_over):
            log.warning(
                "node %s is past its real-time budget: channels reserve %.2f of %.2f CPU (their streams "
                "cost more than admission assumed); its channels may fall behind",
                node, over[node].used, over[node].budget,
            )  # fmt: skip
        for node in sorted(came_back):
            log.info("node %s is within its real-time budget again", node)
        for p in placed:
            full = over.get(self.ledger.node_of(p.name) or "")
            if full is None:
                p.over_budget = ""
                continue
            shape = p.shape or StreamShape(None, None)
            p.over_budget = (
                f"node {full.node[:12]} over its real-time budget: channels reserve {full.used:.2f} of "
                f"{full.budget:.2f} CPU (this one {p.cost.cpus:.2f} CPU at {shape.fps or '?'} fps, keyframes "
                f"every {shape.gop_s or '?'} s; admission assumed {p.admitted_cost.cpus:.2f})"
            )

    def _down(self, placed: _Placed) -> ChannelSnapshot:
        """The actor does not answer: its node is lost and Ray is restarting it elsewhere (or
        it has not finished starting yet)."""
        first = placed.down_since is None
        if first:
            placed.down_since = time.time()
        last = placed.last
        reason = _LOST
        if last is None:  # it never answered: still being placed or loading its models
            snap = ChannelSnapshot(
                name=placed.name, source=placed.source, state=ChannelState.STARTING,
                reason="channel actor starting (placing it, loading its models)",
                since=placed.down_since or time.time(), rule_id="", rule_version=0, trusted=placed.trusted,
                controller="", restarts=0, reconnects=0, queue_depth=0,
                stats={"cost": placed.cost.to_dict(), "admitted_on": placed.admitted_on},
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
                if self.settings.live_rebalance:
                    self._rebalance()
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


def _gauge(registry: Any, name: str, doc: str, labels: list[str]) -> Any:
    from prometheus_client import Gauge

    try:
        return Gauge(name, doc, labels, registry=registry)
    except ValueError:  # already registered by an earlier manager in this process
        return registry._names_to_collectors[name]


__all__ = ["CapacityError", "ChannelActor", "ChannelStartError", "RayChannelManager", "start_failure"]
