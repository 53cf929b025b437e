"""The analyzer contract and the registry of analyzer backends.

Each backend is one module in this package that defines a config model
(``type: Literal["<key>"]``) and a class, and registers them with
:func:`register`.  The registry and the config union are built from those
modules (imported by :func:`load_backends`), never from a hand-kept list.
"""

from __future__ import annotations

import importlib
import pkgutil
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel, ConfigDict

from framewarden.errors import ConfigError
from framewarden.media.frame import Frame


@dataclass(frozen=True, slots=True)
class Box:
    """A box in source-image pixels (top-left corner, size)."""

    left: float
    top: float
    width: float
    height: float

    def to_relative(self, width: int, height: int) -> dict[str, float]:
        """Rekognition's BoundingBox: fractions of the image size."""
        return {
            "Width": self.width / width,
            "Height": self.height / height,
            "Left": self.left / width,
            "Top": self.top / height,
        }


@dataclass(frozen=True, slots=True)
class Detection:
    """One finding of one analyzer on one frame.

    ``label`` is a taxonomy name (any level) or a tag; ``raw_class`` is the
    model's own class (``FEMALE_BREAST_EXPOSED``, a bank name, a matched
    word) so results can be traced back to the model output.
    """

    label: str
    confidence: float  # 0-100
    analyzer: str
    analyzer_version: str
    raw_class: str
    box: Box | None = None
    detail: str = ""  # e.g. the text read, the bank entry matched


class AnalyzerConfig(BaseModel):
    """Base of every backend's typed config (``type`` is the registry key)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str


@runtime_checkable
class Analyzer(Protocol):
    """What the pipeline needs of an analyzer.

    ``analyze`` takes a micro-batch (frames may come from several channels)
    and returns one list of detections per frame, in order.  Implementations
    must be safe to call from one thread at a time; the pipeline serialises
    calls per analyzer.
    """

    name: str
    version: str
    # Optional ``preferred_max_side: int``: longest side a decoder should scale frames to for it.

    def labels(self) -> frozenset[str]: ...

    def analyze(self, frames: Sequence[Frame]) -> list[list[Detection]]: ...

    def close(self) -> None: ...


ConfigT = TypeVar("ConfigT", bound=AnalyzerConfig)


@dataclass(frozen=True, slots=True)
class Backend:
    key: str
    config_cls: type[AnalyzerConfig]
    factory: Callable[[Any], Analyzer]
    description: str


_BACKENDS: dict[str, Backend] = {}
_LOADED = False
_LOCK = threading.Lock()


def register(key: str, config_cls: type[ConfigT], description: str = "") -> Callable[[type], type]:
    """Class decorator: ``@register("nudenet", NudeNetConfig)``."""

    def deco(cls: type) -> type:
        _BACKENDS[key] = Backend(key, config_cls, cls, description or (cls.__doc__ or "").strip())
        return cls

    return deco


def load_backends() -> dict[str, Backend]:
    """Import every module of this package once, so they register."""
    global _LOADED
    with _LOCK:
        if not _LOADED:
            import framewarden.analyzers as pkg

            for info in pkgutil.iter_modules(pkg.__path__):
                if info.name not in {"base"} and not info.name.startswith("_"):
                    importlib.import_module(f"{pkg.__name__}.{info.name}")
            _LOADED = True
    return dict(_BACKENDS)


def available() -> list[str]:
    return sorted(load_backends())


def config_for(key: str, **values: Any) -> AnalyzerConfig:
    """The typed config of backend ``key``, validated."""
    backends = load_backends()
    if key not in backends:
        raise ConfigError(f"unknown analyzer {key!r}; available: {', '.join(sorted(backends))}")
    return backends[key].config_cls.model_validate({"type": key, **values})


def build(config: AnalyzerConfig) -> Analyzer:
    backends = load_backends()
    if config.type not in backends:
        raise ConfigError(f"unknown analyzer {config.type!r}")
    return backends[config.type].factory(config)


class SharedAnalyzers:
    """One instance per analyzer config, shared by every caller in the process.

    The model sessions are the expensive part; a Moderator, a scan and every
    channel worker get the same instance for the same config.
    """

    _instances: ClassVar[dict[str, Analyzer]] = {}
    # Re-entrant: an analyzer may build a shared one it consults (nudenet's second opinion).
    _lock: ClassVar[threading.RLock] = threading.RLock()

    @classmethod
    def get(cls, config: AnalyzerConfig) -> Analyzer:
        key = config.model_dump_json()
        with cls._lock:
            if key not in cls._instances:
                cls._instances[key] = build(config)
            return cls._instances[key]

    @classmethod
    def close_all(cls) -> None:
        with cls._lock:
            for analyzer in cls._instances.values():
                analyzer.close()
            cls._instances.clear()
