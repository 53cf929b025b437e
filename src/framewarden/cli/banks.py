"""``framewarden banks``: curate the hash banks the ``hashlist`` analyzer matches.

Banks live in ``<data_dir>/banks`` (``FRAMEWARDEN_DATA_DIR``), the folder a
running server watches, so a bank added here takes effect there at once.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from framewarden.cli._common import err, nothing_to_do, out
from framewarden.cli._errors import USAGE_EXIT
from framewarden.cli.hash import hash_paths
from framewarden.config import get_settings
from framewarden.errors import FramewardenError
from framewarden.hashing.banks import BankEntry, BankStore, check_bank_name, check_label, read_hashes_file
from framewarden.hashing.pdq import DEFAULT_MIN_QUALITY, matching_hash_image

banks_app = typer.Typer(help="Hash banks: lists of PDQ hashes of known content.", no_args_is_help=True)


def _store() -> BankStore:
    return BankStore(get_settings().banks_dir)


def _fail(message: object, code: int = 1) -> typer.Exit:
    """Exit 1: an input could not be used; exit 2 (USAGE_EXIT): bad arguments, as every command."""
    err.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)
    return typer.Exit(code)


def _entries_from_images(paths: list[str]) -> tuple[list[BankEntry], int]:
    entries: list[BankEntry] = []
    failed = 0
    # The hash moderation will compute for the same file (same decode, same shrink): distance 0.
    for source, result in hash_paths(paths, matching_hash_image):
        if result is None:
            failed += 1
            continue
        if result.quality < DEFAULT_MIN_QUALITY:
            err.print(
                f"warning: {source}: low PDQ quality {result.quality} (< {DEFAULT_MIN_QUALITY}); "
                "featureless images match unreliably",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
        entries.append(BankEntry(pdq=result.hex, source=Path(source).name, quality=result.quality))
    return entries, failed


@banks_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="Bank name (letters, digits, _ . -).")],
    label: Annotated[str, typer.Option("--label", "-l", help='Taxonomy label, e.g. "Hate Symbols".')],
    images: Annotated[
        list[str] | None, typer.Argument(help="Images or folders to hash into the bank.")
    ] = None,
    hashes: Annotated[
        Path | None, typer.Option("--hashes", help="Text file: one PDQ hash per line, or CSV hash,note.")
    ] = None,
    description: Annotated[
        str | None, typer.Option("--description", "-d", help="What the bank holds.")
    ] = None,
) -> None:
    """Create a bank or append to it, from images or a hashes file."""
    images = images or []
    if bool(images) == (hashes is not None):
        raise _fail("give either IMAGE... or --hashes FILE (one of the two)", USAGE_EXIT)
    try:
        check_bank_name(name)
        check_label(label)
    except FramewardenError as exc:
        raise _fail(exc, USAGE_EXIT) from None
    try:
        if hashes is not None:
            entries, failed = read_hashes_file(hashes), 0
        else:
            entries, failed = _entries_from_images(images)
        if failed:
            raise _fail(f"{failed} image(s) could not be hashed; bank {name!r} not changed")
        if not entries and hashes is None:
            raise _fail(nothing_to_do(images, "images"), USAGE_EXIT)
        result = _store().add(name, label, entries, description=description)
    except FramewardenError as exc:
        raise _fail(exc) from None
    out.print(
        f"bank {name!r} ({label}): added {result.added}, already present {result.skipped}, "
        f"total {len(result.bank.entries)}",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )


@banks_app.command("list")
def list_banks(
    as_json: Annotated[bool, typer.Option("--json", help="JSON array instead of a table.")] = False,
) -> None:
    """Show the banks: name, label, number of hashes, description."""
    try:
        banks = _store().load_all()
    except FramewardenError as exc:
        raise _fail(exc) from None
    if as_json:
        rows = [
            {
                "Name": b.name,
                "Label": b.label,
                "Hashes": len(b.entries),
                "Description": b.description,
                "UpdatedAt": b.updated_at,
            }
            for b in banks
        ]
        typer.echo(json.dumps(rows, indent=1))
        return
    table = Table(title=f"Hash banks in {escape(str(_store().root))}")
    for column in ("Name", "Label", "Hashes", "Description", "Updated"):
        table.add_column(column, justify="right" if column == "Hashes" else "left")
    for b in banks:
        cells = (escape(b.name), escape(b.label), str(len(b.entries)), escape(b.description or ""))
        table.add_row(*cells, b.updated_at)
    out.print(table)


@banks_app.command("remove")
def remove(name: Annotated[str, typer.Argument(help="Bank to delete.")]) -> None:
    """Delete a bank (its file) for good."""
    try:
        _store().remove(name)
    except FramewardenError as exc:
        raise _fail(exc) from None
    out.print(f"bank {name!r} removed", markup=False, highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(banks_app, name="banks")
