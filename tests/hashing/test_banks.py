"""Hash banks on disk: round trips, validation, atomic replacement."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from framewarden.errors import InputError
from framewarden.hashing.banks import (
    Bank,
    BankEntry,
    BankError,
    BankStore,
    UnknownBankError,
    check_bank_name,
    read_hashes_file,
)

H1 = "d8f8f0cee0f4a84f0637022a078f67f0b36e2ed596621e1d33e6339c4e9c9b22"
H2 = "6227401f601ff4ccafcc9fad4b0d95d371a2eb7265a3285234d228ca94deeb2d"
H3 = "0007001f003f003f007f00ff00ff00ff01ff01ff01ff03ff03ff03ff03ff03ff"


@pytest.fixture
def store(tmp_path: Path) -> BankStore:
    return BankStore(tmp_path / "banks")


def test_empty_store(store: BankStore) -> None:
    assert store.names() == []
    assert store.load_all() == []
    assert store.signature() == ()


def test_round_trip(store: BankStore) -> None:
    entry = BankEntry(pdq=H1, note="case 7", source="x.jpg")
    result = store.add("hate-1", "Hate Symbols", [entry], description="known flags")
    assert (result.added, result.skipped) == (1, 0)
    assert store.names() == ["hate-1"]
    bank = store.load("hate-1")
    assert (bank.name, bank.label, bank.description) == ("hate-1", "Hate Symbols", "known flags")
    assert bank.entries == [BankEntry(pdq=H1, note="case 7", source="x.jpg")]
    assert json.loads(store.path("hate-1").read_text())["entries"][0]["pdq"] == H1


def test_append_skips_known_hashes_and_keeps_description(store: BankStore) -> None:
    store.add("b", "Explicit", [BankEntry(pdq=H1)], description="first")
    result = store.add("b", "Explicit", [BankEntry(pdq=H1.upper()), BankEntry(pdq=H2), BankEntry(pdq=H2)])
    assert (result.added, result.skipped) == (1, 2)
    bank = store.load("b")
    assert [e.pdq for e in bank.entries] == [H1, H2]
    assert bank.description == "first"


def test_label_mismatch_is_an_error(store: BankStore) -> None:
    store.add("b", "Explicit", [BankEntry(pdq=H1)])
    with pytest.raises(BankError, match="has label 'Explicit', not 'Violence'"):
        store.add("b", "Violence", [BankEntry(pdq=H2)])
    assert len(store.load("b").entries) == 1


@pytest.mark.parametrize(
    "label", ["Hate Symbols", "Explicit", "Nazi Party", "Exposed Female Nipple", "Gambling"]
)
def test_any_taxonomy_label_is_accepted(store: BankStore, label: str) -> None:
    assert store.add("b", label, [BankEntry(pdq=H1)]).bank.label == label


@pytest.mark.parametrize("label", ["", "hate symbols", "Face Female", "Nudity"])
def test_unknown_labels_are_refused(store: BankStore, label: str) -> None:
    with pytest.raises(BankError, match="unknown moderation label"):
        store.add("b", label, [BankEntry(pdq=H1)])
    assert store.names() == []


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("", False),
        ("a", True),
        ("hate_symbols-2024.v2", True),
        ("../etc", False),
        (".hidden", False),
        ("a/b", False),
        ("x.json", False),
        ("a" * 64, True),
        ("a" * 65, False),
        ("space name", False),
    ],
)
def test_bank_names(name: str, valid: bool) -> None:
    if valid:
        assert check_bank_name(name) == name
    else:
        with pytest.raises(BankError, match="invalid bank name"):
            check_bank_name(name)


def test_remove(store: BankStore) -> None:
    store.add("a", "Explicit", [BankEntry(pdq=H1)])
    store.add("b", "Explicit", [BankEntry(pdq=H2)])
    store.remove("a")
    assert store.names() == ["b"]
    with pytest.raises(UnknownBankError, match="no bank named 'a'"):
        store.remove("a")
    with pytest.raises(UnknownBankError):
        store.load("a")


def test_corrupt_bank_file_names_the_file(store: BankStore) -> None:
    store.root.mkdir(parents=True)
    (store.root / "bad.json").write_text('{"name": "bad", "label": "Explicit", "entries": [{"pdq": "xyz"}]}')
    (store.root / "half.json").write_text('{"name": "half", "lab')
    for name in ("bad", "half"):
        with pytest.raises(BankError, match=f"{name}.json: not a valid bank file"):
            store.load(name)


def test_bank_file_must_hold_its_own_name(store: BankStore) -> None:
    store.root.mkdir(parents=True)
    (store.root / "a.json").write_text(Bank(name="b", label="Explicit").model_dump_json())
    with pytest.raises(BankError, match="holds bank 'b'"):
        store.load("a")


def test_signature_changes_on_every_write(store: BankStore) -> None:
    signatures = {store.signature()}
    store.add("a", "Explicit", [BankEntry(pdq=H1)])
    signatures.add(store.signature())
    store.add("a", "Explicit", [BankEntry(pdq=H2)])
    signatures.add(store.signature())
    store.remove("a")
    assert store.signature() == ()
    assert len(signatures) == 3


def test_temporary_files_are_not_banks(store: BankStore) -> None:
    store.add("a", "Explicit", [BankEntry(pdq=H1)])
    (store.root / ".a.x1y2.tmp").write_text("partial")
    (store.root / ".b.json").write_text("{}")
    assert store.names() == ["a"]
    assert [name for name, *_ in store.signature()] == ["a.json"]


def test_concurrent_readers_never_see_half_a_bank(store: BankStore) -> None:
    small = [BankEntry(pdq=H1)]
    large = [BankEntry(pdq=f"{i:064x}", note="n" * 50) for i in range(3000)]
    store.save(Bank(name="live", label="Explicit", entries=small))
    stop = threading.Event()
    seen: set[int] = set()
    errors: list[Exception] = []

    def reader() -> None:
        while not stop.is_set():
            try:
                seen.add(len(store.load("live").entries))
            except Exception as exc:  # any failure is the bug this test looks for
                errors.append(exc)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for i in range(40):
            store.save(Bank(name="live", label="Explicit", entries=large if i % 2 else small))
    finally:
        stop.set()
        thread.join()
    assert errors == []
    assert seen <= {1, 3000} and seen
    assert not list(store.root.glob(".*.tmp"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"{H1}\n", [(H1, "")]),
        (f"# exported 2024-01-01\n\n{H1.upper()}\n{H2},case 12\n", [(H1, ""), (H2, "case 12")]),
        (f'{H3},"note, with comma"\r\n', [(H3, "note, with comma")]),
        (f"\ufeff{H1}, spaced note \n", [(H1, "spaced note")]),
    ],
    ids=["one", "comments-and-csv", "quoted", "bom-crlf"],
)
def test_hashes_file(tmp_path: Path, text: str, expected: list[tuple[str, str]]) -> None:
    path = tmp_path / "list.txt"
    path.write_bytes(text.encode())
    entries = read_hashes_file(path)
    assert [(e.pdq, e.note) for e in entries] == expected
    assert {e.source for e in entries} == {"list.txt"}


@pytest.mark.parametrize(
    ("text", "where", "reason"),
    [
        (f"{H1}\nnot-a-hash\n", ":2", "not a PDQ hash"),
        (f"{H1[:-1]}\n", ":1", "not a PDQ hash"),
        (f"\n\n{H1},a,b\n", ":3", "expected 'hash' or 'hash,note'"),
        ("# only a comment\n", "", "no hashes found"),
        ("", "", "no hashes found"),
    ],
    ids=["bad-line-2", "short", "three-fields", "comment-only", "empty"],
)
def test_bad_hashes_file_names_file_and_line(tmp_path: Path, text: str, where: str, reason: str) -> None:
    path = tmp_path / "list.txt"
    path.write_text(text)
    with pytest.raises(InputError) as info:
        read_hashes_file(path)
    assert str(info.value).startswith(f"{path}{where}: ")
    assert reason in str(info.value)


def test_missing_or_binary_hashes_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        read_hashes_file(tmp_path / "nope.txt")
    (tmp_path / "bin.txt").write_bytes(b"\xff\xfe\x00\x81")
    with pytest.raises(InputError, match="not a UTF-8 text file"):
        read_hashes_file(tmp_path / "bin.txt")
