"""Hash banks: named lists of PDQ hashes of known content, one file each.

A *bank* (the word of Meta's Hasher-Matcher-Actioner) is what a platform
curates: the hashes of images it has already judged, often received from a
hash-sharing program, under one taxonomy label ("Hate Symbols", "Explicit").
A frame that matches an entry is flagged with the bank's label.

Storage is a plain JSON file per bank in ``Settings.banks_dir``, so banks are
easy to back up, diff and copy between machines.  Every write goes to a
temporary file in the same folder and is moved into place with
``os.replace`` (atomic on POSIX): a reader, such as a running server that
reloads banks when their files change, sees the old bank or the new one,
never half of one.  Writers do not lock: two concurrent ``banks add`` on the
same bank may lose one of the two updates, never corrupt the file.
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from framewarden import fsutil, taxonomy
from framewarden.errors import FramewardenError, InputError
from framewarden.hashing.pdq import is_pdq_hex, normalize_hex

BANK_SUFFIX = ".json"
FORMAT_VERSION = 1
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


class BankError(FramewardenError):
    """A bank that cannot be used: unknown, unreadable, or a bad change."""


class UnknownBankError(BankError):
    def __init__(self, name: str) -> None:
        super().__init__(f"no bank named {name!r}")
        self.name = name


def check_bank_name(name: str) -> str:
    """Bank names become file names: letters, digits, ``_ . -``, 1-64 chars."""
    if not _NAME_RE.fullmatch(name) or name.endswith(BANK_SUFFIX):
        raise BankError(
            f"invalid bank name {name!r}: use 1-64 letters, digits, '_', '.', '-' "
            "(starting with a letter or digit)"
        )
    return name


def check_label(label: str) -> str:
    """A bank's label must be a moderation label of the taxonomy (any level)."""
    if not taxonomy.is_label(label):
        raise BankError(
            f"unknown moderation label {label!r} for a bank; use a taxonomy label such as "
            + ", ".join(repr(name) for name in taxonomy.TOP_LEVEL)
        )
    return label


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class BankEntry(BaseModel):
    """One known hash; ``note`` and ``source`` say where it came from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pdq: str = Field(description="PDQ hash, 64 lowercase hex digits.")
    note: str = Field(default="", description="Free text (case id, description).")
    source: str = Field(default="", description="File or list the hash came from.")
    quality: int | None = Field(default=None, ge=0, le=100, description="PDQ quality, when hashed here.")

    @field_validator("pdq")
    @classmethod
    def _hex(cls, value: str) -> str:
        if not is_pdq_hex(value):
            raise ValueError(f"not a PDQ hash (64 hex digits): {value!r}")
        return value.strip().lower()


class Bank(BaseModel):
    """A named hash list under one taxonomy label (the file's content)."""

    model_config = ConfigDict(extra="forbid")

    format: int = FORMAT_VERSION
    name: str
    label: str
    description: str = ""
    created_at: str = Field(default_factory=_now)
    updated_at: str = Field(default_factory=_now)
    entries: list[BankEntry] = Field(default_factory=list)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        try:
            return check_bank_name(value)
        except BankError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("label")
    @classmethod
    def _label(cls, value: str) -> str:
        try:
            return check_label(value)
        except BankError as exc:
            raise ValueError(str(exc)) from None


@dataclass(frozen=True, slots=True)
class AddResult:
    bank: Bank
    added: int  # new entries
    skipped: int  # hashes already in the bank


class BankStore:
    """The banks of one folder (``Settings.banks_dir``)."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def path(self, name: str) -> Path:
        return self.root / f"{check_bank_name(name)}{BANK_SUFFIX}"

    def names(self) -> list[str]:
        """Bank names, sorted (temporary and hidden files ignored)."""
        if not self.root.is_dir():
            return []
        return sorted(
            p.name[: -len(BANK_SUFFIX)]
            for p in self.root.iterdir()
            if p.name.endswith(BANK_SUFFIX) and not p.name.startswith(".") and p.is_file()
        )

    def exists(self, name: str) -> bool:
        return self.path(name).is_file()

    def load(self, name: str) -> Bank:
        path = self.path(name)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise UnknownBankError(name) from None
        except OSError as exc:
            raise BankError(f"{path}: cannot read bank: {exc.strerror or exc}") from None
        try:
            bank = Bank.model_validate(json.loads(raw))
        except (ValueError, ValidationError) as exc:
            reason = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
            raise BankError(f"{path}: not a valid bank file: {reason}") from None
        if bank.name != name:
            raise BankError(f"{path}: holds bank {bank.name!r}, expected {name!r}")
        return bank

    def load_all(self, names: Sequence[str] = ()) -> list[Bank]:
        """The named banks (all when ``names`` is empty), sorted by name."""
        return [self.load(n) for n in (sorted(names) if names else self.names())]

    def save(self, bank: Bank) -> Path:
        """Write ``bank`` atomically (temporary file, fsync, ``os.replace``)."""
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.path(bank.name)
        data = bank.model_dump_json(indent=1).encode()
        fsutil.write_atomic(path, data)
        return path

    def add(
        self,
        name: str,
        label: str,
        entries: Iterable[BankEntry],
        *,
        description: str | None = None,
    ) -> AddResult:
        """Create bank ``name`` or append to it; hashes already there are skipped.

        Appending with a different label is an error (a bank has one label).
        """
        check_bank_name(name)
        check_label(label)
        if self.exists(name):
            bank = self.load(name)
            if bank.label != label:
                raise BankError(f"bank {name!r} has label {bank.label!r}, not {label!r}")
        else:
            bank = Bank(name=name, label=label)
        if description is not None:
            bank.description = description
        known = {e.pdq for e in bank.entries}
        added = skipped = 0
        for entry in entries:
            if entry.pdq in known:
                skipped += 1
                continue
            known.add(entry.pdq)
            bank.entries.append(entry)
            added += 1
        bank.updated_at = _now()
        self.save(bank)
        return AddResult(bank, added, skipped)

    def remove(self, name: str) -> None:
        try:
            self.path(name).unlink()
        except FileNotFoundError:
            raise UnknownBankError(name) from None

    def signature(self) -> tuple[tuple[str, int, int, int], ...]:
        """(file, mtime_ns, size, inode) of every bank file: changes when any
        bank is written (``os.replace`` gives a new inode), added or removed."""
        try:
            with os.scandir(self.root) as it:
                found = []
                for item in it:
                    if item.name.endswith(BANK_SUFFIX) and not item.name.startswith("."):
                        st = item.stat()
                        found.append((item.name, st.st_mtime_ns, st.st_size, st.st_ino))
        except FileNotFoundError:
            return ()
        return tuple(sorted(found))


def read_hashes_file(path: Path | str) -> list[BankEntry]:
    """Entries from a text file: one hash per line, or CSV ``hash,note``.

    Blank lines and lines starting with ``#`` are skipped.  A bad line raises
    :class:`InputError` naming ``<file>:<line>``.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError(str(path), "no such file") from None
    except UnicodeDecodeError:
        raise InputError(str(path), "not a UTF-8 text file") from None
    except OSError as exc:
        raise InputError(str(path), f"cannot read: {exc.strerror or exc}") from None
    entries: list[BankEntry] = []
    for lineno, row in enumerate(csv.reader(text.splitlines()), start=1):
        if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
            continue
        where = f"{path}:{lineno}"
        if len(row) > 2:
            raise InputError(where, f"expected 'hash' or 'hash,note', got {len(row)} fields")
        pdq = normalize_hex(row[0], source=where)
        note = row[1].strip() if len(row) == 2 else ""
        entries.append(BankEntry(pdq=pdq, note=note, source=path.name))
    if not entries:
        raise InputError(str(path), "no hashes found")
    return entries
