"""``framewarden evidence prune``: apply the evidence retention policy now."""

from __future__ import annotations

import time

import typer
from rich.markup import escape

from framewarden.actions.evidence import EvidenceStore
from framewarden.cli._common import err, out
from framewarden.errors import FramewardenError

evidence_app = typer.Typer(help="Evidence frames kept by the moderation pipeline.", no_args_is_help=True)


@evidence_app.command("prune")
def prune(
    clean_days: float = typer.Option(7.0, "--clean-days", min=0, help="Delete clean frames older than this."),
    flagged_days: float = typer.Option(
        90.0, "--flagged-days", min=0, help="Delete flagged frames older than this."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only list what would be deleted."),
) -> None:
    """Delete old evidence (clean and flagged frames have separate limits)."""
    try:
        store = EvidenceStore.from_settings()
        result = store.apply_retention(
            now=time.time(), clean_days=clean_days, flagged_days=flagged_days, dry_run=dry_run
        )
    except FramewardenError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(2) from None
    for key in result.deleted:
        out.print(key, markup=False, highlight=False)
    verb = "would delete" if dry_run else "deleted"
    err.print(
        f"{verb} {len(result.deleted)} files, kept {result.kept} in {store.blobs.location}",
        markup=False, highlight=False, soft_wrap=True,
    )  # fmt: skip


def register(app: typer.Typer) -> None:
    app.add_typer(evidence_app, name="evidence")
