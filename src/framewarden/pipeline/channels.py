"""The ChannelManager: the live channels of a process, the surface the API builds on.

It owns one :class:`~framewarden.pipeline.supervisor.ChannelSupervisor` per
channel, resolves each channel's rule from the current rule set, and applies
rule changes to only the channels whose resolved rule actually changed
(their dedup reference and K-of-N window restart; other channels keep
theirs).  Every method is thread-safe and returns plain snapshots, so the
HTTP layer never touches a worker directly.

>>> manager = ChannelManager(WorkerContext(batcher), rules=rules)   # doctest: +SKIP
>>> manager.add("cam-1", "rtmp://127.0.0.1/live/cam-1")             # doctest: +SKIP
>>> manager.snapshot("cam-1").state                                   # doctest: +SKIP
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from framewarden.actions.controllers import (
    ControllerConfig,
    NullController,
    StreamController,
    build_controller,
)
from framewarden.config import Settings, get_settings
from framewarden.errors import ConfigError
from framewarden.media.source_check import check_source
from framewarden.netpolicy import NetworkPolicy
from framewarden.pipeline.context import WorkerContext
from framewarden.pipeline.supervisor import Backoff, ChannelSnapshot, ChannelSupervisor
from framewarden.pipeline.worker import ChannelSpec, ChannelWorker
from framewarden.rules.models import Rule
from framewarden.rules.resolve import resolve

log = logging.getLogger(__name__)

CHANNEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")


class UnknownChannelError(ConfigError, KeyError):
    def __init__(self, name: str) -> None:
        super().__init__(f"unknown channel {name!r}")
        self.name = name

    def __str__(self) -> str:
        return f"unknown channel {self.name!r}"

    def __reduce__(self) -> tuple[Any, ...]:  # travels between API processes as itself
        return (type(self), (self.name,))


class DuplicateChannelError(ConfigError):
    pass


def check_channel_name(name: str) -> str:
    """Channel names end up in metrics, paths and URLs: a short slug only."""
    if not CHANNEL_NAME.fullmatch(name):
        raise ConfigError(f"channel name {name!r} must match {CHANNEL_NAME.pattern}")
    return name


class ChannelManager:
    """Add, remove, start and stop live channels; snapshot them; apply rule changes."""

    def __init__(
        self,
        context: WorkerContext,
        *,
        rules: Sequence[Rule] = (),
        rule_versions: Mapping[str, int] | None = None,
        settings: Settings | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        self.context = context
        self.settings = settings or get_settings()
        self.backoff = backoff or Backoff()
        self._rules: tuple[Rule, ...] = tuple(rules)
        self._versions: dict[str, int] = dict(rule_versions or {})
        self._channels: dict[str, ChannelSupervisor] = {}
        self._refused: dict[str, str] = {}  # channels held in error: why they may not start
        self._lock = threading.RLock()

    # --- channels ------------------------------------------------------------------
    def add(
        self,
        name: str,
        source: str,
        *,
        controller: ControllerConfig | StreamController | None = None,
        trusted: bool = False,
        start: bool = True,
        queue_size: int = 2,
    ) -> ChannelSnapshot:
        """Register a channel (and start it unless ``start=False``)."""
        check_channel_name(name)
        check_source(source, self.settings)
        if controller is None or not hasattr(controller, "stop"):
            policy = NetworkPolicy.from_settings(self.settings)  # checked again before each call
            controller = build_controller(controller, source=source, policy=policy)
        with self._lock:
            supervisor = self._register(
                name,
                source,
                trusted=trusted,
                controller=controller,  # type: ignore[arg-type]  # built above when it was a config
                queue_size=queue_size,
            )
        if start:
            supervisor.start()
        return supervisor.snapshot()

    def hold(self, name: str, source: str, reason: str, *, trusted: bool = False) -> ChannelSnapshot:
        """Register a channel that may not run (its source or controller is no longer allowed).

        It shows in ``error`` with ``reason`` and refuses :meth:`start`; nothing
        is opened.  A restored channel that fails its checks lands here, so
        the operator sees it instead of it vanishing.
        """
        check_channel_name(name)
        with self._lock:
            supervisor = self._register(name, source, trusted=trusted)
            self._refused[name] = reason
        supervisor.fail(reason)
        return supervisor.snapshot()

    def _register(
        self,
        name: str,
        source: str,
        *,
        trusted: bool,
        controller: StreamController | None = None,
        queue_size: int = 2,
    ) -> ChannelSupervisor:
        """A supervisor for a new channel under its rule (the caller holds the lock)."""
        if name in self._channels:
            raise DuplicateChannelError(f"channel {name!r} already exists")
        rule = resolve(self._rules, name)
        channel = ChannelSpec(
            name=name,
            source=source,
            rule=rule,
            rule_version=self._versions.get(rule.id, 0),
            trusted=trusted,
            controller=controller if controller is not None else NullController(),
            queue_size=queue_size,
        )
        supervisor = ChannelSupervisor(ChannelWorker(channel, self.context), backoff=self.backoff)
        self._channels[name] = supervisor
        return supervisor

    def remove(self, name: str, *, timeout: float = 30.0) -> None:
        """Stop a channel (gracefully) and forget it."""
        supervisor = self._get(name)
        supervisor.stop(timeout)
        with self._lock:
            self._channels.pop(name, None)
            self._refused.pop(name, None)
        self.context.metrics.forget(name)

    def start(self, name: str) -> ChannelSnapshot:
        """Start a stopped channel (after a stop or an auto-stop); a held one is refused."""
        supervisor = self._get(name)
        with self._lock:
            refused = self._refused.get(name)
        if refused is not None:
            raise ConfigError(f"channel {name!r} may not start: {refused}")
        supervisor.start()
        return supervisor.snapshot()

    def stop(self, name: str, *, timeout: float = 30.0) -> ChannelSnapshot:
        """Stop analyzing a channel (the upstream stream is left alone)."""
        supervisor = self._get(name)
        supervisor.stop(timeout)
        return supervisor.snapshot()

    def stop_stream(self, name: str) -> ChannelSnapshot:
        """A moderator's "stop": drop the stream at the server, then stop the channel.

        Raises :class:`~framewarden.actions.controllers.ControllerError` when
        the server refused; the channel is left running then.
        """
        supervisor = self._get(name)
        supervisor.worker.spec.controller.stop(name)
        supervisor.stop()
        return supervisor.snapshot()

    def snapshot(self, name: str) -> ChannelSnapshot:
        return self._get(name).snapshot()

    def snapshots(self) -> list[ChannelSnapshot]:
        with self._lock:
            supervisors = sorted(self._channels.values(), key=lambda s: s.name)
        return [s.snapshot() for s in supervisors]

    def names(self) -> list[str]:
        with self._lock:
            return sorted(self._channels)

    def __contains__(self, name: object) -> bool:
        with self._lock:
            return name in self._channels

    def close(self, timeout: float = 30.0) -> None:
        """Stop every channel (gracefully, in parallel)."""
        with self._lock:
            supervisors = list(self._channels.values())
        for supervisor in supervisors:
            supervisor._stop.set()
        for supervisor in supervisors:
            supervisor.stop(timeout)

    def __enter__(self) -> ChannelManager:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- rules ---------------------------------------------------------------------
    @property
    def rules(self) -> tuple[Rule, ...]:
        return self._rules

    def rule_of(self, name: str) -> Rule:
        return self._get(name).worker.target_rule[0]

    def set_rules(self, rules: Sequence[Rule], versions: Mapping[str, int] | None = None) -> set[str]:
        """Replace the rule set; returns the channels whose rule changed (only their state restarts)."""
        with self._lock:
            self._rules = tuple(rules)
            if versions is not None:
                self._versions = dict(versions)
            affected: set[str] = set()
            for name, supervisor in self._channels.items():
                rule = resolve(self._rules, name)
                version = self._versions.get(rule.id, 0)
                if (rule, version) != supervisor.worker.target_rule:
                    supervisor.worker.update_rule(rule, version)
                    affected.add(name)
        if affected:
            log.info("rule change affects %d channel(s): %s", len(affected), ", ".join(sorted(affected)))
        return affected

    def _get(self, name: str) -> ChannelSupervisor:
        with self._lock:
            try:
                return self._channels[name]
            except KeyError:
                raise UnknownChannelError(name) from None
