"""What the two bring-your-own-model analyzers share: loading and checking the file.

Not an analyzer (no ``register``).  Everything that can be wrong with a model a
user brings (no file, not ONNX, an output that does not fit the class list, a
class map naming no taxonomy label) is found here, at start-up, and reported
as a :class:`ConfigError` naming the file: never a crash at the first frame.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from framewarden import taxonomy
from framewarden.analyzers.image_safety import session_options
from framewarden.analyzers.model_files import file_sha256
from framewarden.errors import ConfigError

# Model class -> one taxonomy label / tag, or several (e.g. NSFL -> Violence and Visually Disturbing).
ClassMap = dict[str, str | tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class LoadedModel:
    session: ort.InferenceSession
    input_name: str
    dynamic_batch: bool
    labels: tuple[tuple[str, ...], ...]  # per class id, the labels it reports (empty = not reported)
    version: str  # "<file name>@sha256:<first 12 hex>"


def load_custom_session(
    kind: str,
    model_path: str,
    classes: Sequence[str],
    class_map: ClassMap,
    probe: np.ndarray,
    check_output: Callable[[np.ndarray, int], str],
) -> LoadedModel:
    """Open ``model_path``, run ``probe`` through it once, check the output; ConfigError if off."""
    path = Path(model_path).expanduser()
    where = f"{kind} model {str(path)!r}"
    if not path.is_file():
        raise ConfigError(f"{where}: no such file")
    labels = _labels_per_class(where, classes, class_map)
    try:
        session = ort.InferenceSession(str(path), session_options(), providers=["CPUExecutionProvider"])
        model_input = session.get_inputs()[0]
        output = session.run(None, {model_input.name: _fit_probe(probe, model_input.shape)})[0]
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    except Exception as exc:  # ONNX Runtime's own error types: not ONNX, wrong input, broken graph
        raise ConfigError(f"{where} cannot be loaded or run: {_first_line(exc)}") from None
    problem = check_output(np.asarray(output), len(classes))
    if problem:
        raise ConfigError(f"{where}: {problem}")
    return LoadedModel(
        session=session,
        input_name=model_input.name,
        dynamic_batch=not isinstance(model_input.shape[0], int),
        labels=labels,
        version=f"{path.name}@sha256:{file_sha256(path)[:12]}",
    )


def _labels_per_class(where: str, classes: Sequence[str], class_map: ClassMap) -> tuple[tuple[str, ...], ...]:
    unknown = sorted(set(class_map) - set(classes))
    if unknown:
        raise ConfigError(f"{where}: class_map names classes the model does not have: {', '.join(unknown)}")
    out = []
    for cls in classes:
        mapped = class_map.get(cls, ())
        names = (mapped,) if isinstance(mapped, str) else tuple(mapped)
        for name in names:
            if not (taxonomy.is_label(name) or taxonomy.is_tag(name)):
                raise ConfigError(f"{where}: class {cls!r} maps to {name!r}, not a taxonomy label or tag")
        out.append(names)
    return tuple(out)


def _fit_probe(probe: np.ndarray, shape: Sequence[Any]) -> np.ndarray:
    """The probe, or an error naming the size the model wants when its input is fixed and different."""
    for axis, (want, have) in enumerate(zip(shape[1:], probe.shape[1:], strict=False), start=1):
        if isinstance(want, int) and want != have:
            raise ConfigError(
                f"model input {list(shape)} does not fit the configured size (axis {axis}: {have})"
            )
    return probe


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


__all__ = ["ClassMap", "LoadedModel", "load_custom_session"]
