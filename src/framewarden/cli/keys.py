"""``framewarden keys``: API keys for the server (stored hashed, shown once)."""

from __future__ import annotations

import json

import typer
from rich.markup import escape
from rich.table import Table

from framewarden.cli._common import err, out
from framewarden.config import get_settings
from framewarden.errors import FramewardenError
from framewarden.store.db import Database, open_database

keys_app = typer.Typer(
    help="Manage API keys (roles: admin, moderator, viewer, ingest).", no_args_is_help=True
)


def _db() -> Database:

    return open_database(get_settings())


@keys_app.command("create")
def create(
    role: str = typer.Option(
        None, "--role", help="admin | moderator | viewer | ingest (--aws: default ingest)."
    ),
    name: str = typer.Option("", "--name", help="Who or what uses the key (default: the role)."),
    as_json: bool = typer.Option(False, "--json", help="Print the key as JSON."),
    aws: bool = typer.Option(
        False, "--aws", help="An AWS-style access key pair (SigV4) for the Rekognition-compatible endpoint."
    ),
) -> None:
    """Create a key and print it once; only its hash is stored."""
    from framewarden.store import keys as repo

    if not role:
        if not aws:
            err.print("[red]error:[/] --role is required")
            raise typer.Exit(2)
        role = "ingest"
    db = _db()
    try:
        with db.begin() as session:
            if aws:
                master = repo.load_key_master(get_settings())
                row, key_id, secret = repo.create_aws_key(
                    session,
                    name=name or role,
                    role=role,  # type: ignore[arg-type]
                    master=master,
                )
                aws_info = {"AccessKeyId": key_id, "SecretAccessKey": secret, "Role": row.role}
            else:
                row, full = repo.create_key(session, name=name or role, role=role)  # type: ignore[arg-type]
                info = {"id": row.id, "name": row.name, "role": row.role, "key": full}
    except FramewardenError as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(2) from None
    finally:
        db.close()
    if aws:
        if as_json:
            typer.echo(json.dumps(aws_info))
        else:
            out.print(
                f"created {row.role} AWS-style key {row.id}; store the secret now, it is not shown again:"
            )
            typer.echo(f"aws_access_key_id = {aws_info['AccessKeyId']}")
            typer.echo(f"aws_secret_access_key = {aws_info['SecretAccessKey']}")
        return
    if as_json:
        typer.echo(json.dumps(info))
    else:
        out.print(
            f"created {info['role']} key {info['id']} ({info['name']}); store it now, it is not shown again:",
            markup=False, highlight=False, soft_wrap=True,
        )  # fmt: skip
        typer.echo(info["key"])


@keys_app.command("list")
def list_keys(as_json: bool = typer.Option(False, "--json")) -> None:
    """List live keys (never their secrets)."""
    from framewarden.store import keys as repo

    db = _db()
    try:
        with db.read() as session:
            rows = [
                {
                    "id": k.id,
                    "name": k.name,
                    "role": k.role,
                    "created_at": str(k.created_at),
                    "last_used_at": str(k.last_used_at or ""),
                }
                for k in repo.list_keys(session)
            ]
    finally:
        db.close()
    if as_json:
        for row in rows:
            typer.echo(json.dumps(row))
        return
    table = Table("id", "name", "role", "created", "last used")
    for row in rows:
        table.add_row(*(escape(row[c]) for c in ("id", "name", "role", "created_at", "last_used_at")))
    out.print(table)


@keys_app.command("revoke")
def revoke(key_id: str) -> None:
    """Revoke a key by id."""
    from framewarden.store import keys as repo

    db = _db()
    try:
        with db.begin() as session:
            repo.revoke_key(session, key_id=key_id)
    except FramewardenError as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(1) from None
    finally:
        db.close()
    out.print(f"revoked {key_id}")


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")
