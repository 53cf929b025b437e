"""framewarden: self-hosted, real-time moderation of live streams, videos and images."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from framewarden.moderator import Moderator
    from framewarden.result import ModerationResult

__all__ = ["ModerationResult", "Moderator", "__version__"]


def __getattr__(name: str) -> Any:
    # Lazy, so `import framewarden` does not load ONNX Runtime or NumPy.
    if name == "Moderator":
        from framewarden.moderator import Moderator

        return Moderator
    if name == "ModerationResult":
        from framewarden.result import ModerationResult

        return ModerationResult
    raise AttributeError(name)
