"""``framewarden hash`` and ``framewarden banks``, run as the real console script."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from framewarden.analyzers.hashlist import HashListAnalyzer, HashListConfig
from framewarden.hashing.banks import BankStore
from framewarden.hashing.pdq import hash_image, matching_hash_image
from framewarden.media.frame import Frame
from framewarden.media.image import load_image
from tests.conftest import BROKEN, THREATEXCHANGE

PDQ_DATA = THREATEXCHANGE / "pdq" / "data"
MODS = PDQ_DATA / "bridge-mods"
WEE = PDQ_DATA / "misc-images" / "wee.jpg"
WEE_HASH = "6227401f601ff4ccafcc9fad4b0d95d371a2eb7265a3285234d228ca94deeb2d"  # upstream, exact
SCRIPT = shutil.which("framewarden", path=str(Path(sys.executable).parent)) or "framewarden"


def fw(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """Run the installed ``framewarden`` with this test's FRAMEWARDEN_DATA_DIR."""
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(
        [SCRIPT, *map(str, args)], capture_output=True, text=True, env=env, timeout=120, check=False
    )


def test_hash_files_and_folders() -> None:
    run = fw("hash", WEE, MODS)
    assert run.returncode == 0, run.stderr
    lines = [line.split("\t") for line in run.stdout.splitlines()]
    assert len(lines) == 1 + len(list(MODS.glob("*.jpg")))
    assert lines[0] == [WEE_HASH, "100", str(WEE)]
    for hex_hash, quality, source in lines[1:]:
        assert Path(source).parent == MODS
        assert hex_hash == hash_image(source).hex and int(quality) == 100


def test_hash_json_and_errors(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not an image")
    run = fw("hash", "--json", WEE, BROKEN / "small_png-truncated.png", notes, tmp_path / "missing.jpg")
    assert run.returncode == 1
    assert [json.loads(line) for line in run.stdout.splitlines()] == [
        {"Source": str(WEE), "PDQ": WEE_HASH, "Quality": 100}
    ]
    errors = run.stderr.splitlines()
    assert len(errors) == 3, run.stderr
    for bad, line in zip(["small_png-truncated.png", "notes.txt", "missing.jpg"], errors, strict=True):
        assert line.startswith("error: ") and bad in line


@pytest.mark.slow  # six runs of the console script
def test_banks_lifecycle(tmp_path: Path, isolated_settings: Path) -> None:
    hashes = tmp_path / "list.csv"
    hashes.write_text(f"# from a partner\n{WEE_HASH},partner case 1\n")
    add = fw("banks", "add", "bridges", "--label", "Hate Symbols", MODS, "-d", "bridge photos")
    assert add.returncode == 0, add.stderr
    # Banks store the hash moderation will compute; some of the 12 edits shrink to the same one.
    distinct = len({matching_hash_image(p).hex for p in sorted(MODS.iterdir())})
    assert 1 < distinct <= 12
    assert f"added {distinct}, already present {12 - distinct}, total {distinct}" in add.stdout
    again = fw("banks", "add", "bridges", "--label", "Hate Symbols", MODS / "aaa-orig.jpg")
    assert "added 0, already present 1" in again.stdout
    partner = fw("banks", "add", "partner", "--label", "Explicit", "--hashes", hashes)
    assert partner.returncode == 0, partner.stderr

    listing = fw("banks", "list", "--json")
    assert listing.returncode == 0, listing.stderr
    rows = {row["Name"]: row for row in json.loads(listing.stdout)}
    assert rows["bridges"]["Label"] == "Hate Symbols" and rows["bridges"]["Hashes"] == distinct
    assert rows["bridges"]["Description"] == "bridge photos"
    assert rows["partner"]["Hashes"] == 1

    table = fw("banks", "list")
    assert "bridges" in table.stdout and "Hate Symbols" in table.stdout and "partner" in table.stdout

    # Same data directory as the in-process settings: a running analyzer sees the banks.
    store = BankStore(isolated_settings / "banks")
    assert store.names() == ["bridges", "partner"]
    analyzer = HashListAnalyzer(HashListConfig())
    detections = analyzer.analyze([Frame("c", 0, 0.0, load_image(WEE).rgb)])[0]
    assert [(d.label, d.raw_class) for d in detections] == [("Explicit", "bank:partner")]

    removed = fw("banks", "remove", "partner")
    assert removed.returncode == 0, removed.stderr
    assert store.names() == ["bridges"]
    assert analyzer.analyze([Frame("c", 0, 0.0, load_image(WEE).rgb)]) == [[]]


TRUNCATED = BROKEN / "small_png-truncated.png"


@pytest.mark.parametrize(
    ("args", "message", "code"),
    [
        # Usage errors (bad arguments) exit 2 as in every command; unusable inputs exit 1.
        (("banks", "add", "x", "--label", "Explicit"), "either IMAGE... or --hashes", 2),
        (("banks", "add", "x", "--label", "Nope", str(WEE)), "unknown moderation label 'Nope'", 2),
        (("banks", "add", "../x", "--label", "Explicit", str(WEE)), "invalid bank name", 2),
        (("banks", "add", "x", "--label", "Explicit", str(TRUNCATED)), "truncated", 1),
        (("banks", "remove", "nope"), "no bank named 'nope'", 1),
    ],
    ids=["no-input", "bad-label", "bad-name", "bad-image", "remove-unknown"],
)
def test_banks_errors(args: tuple[str, ...], message: str, code: int, isolated_settings: Path) -> None:
    run = fw(*args)
    assert run.returncode == code
    assert message in run.stderr
    assert BankStore(isolated_settings / "banks").names() == []


def test_bad_hashes_file_and_label_mismatch(tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text(f"{WEE_HASH}\nnot-a-hash\n")
    run = fw("banks", "add", "x", "--label", "Explicit", "--hashes", bad)
    assert run.returncode == 1
    assert f"{bad}:2: not a PDQ hash" in run.stderr
    assert fw("banks", "add", "x", "--label", "Explicit", WEE).returncode == 0
    mismatch = fw("banks", "add", "x", "--label", "Violence", WEE)
    assert mismatch.returncode == 1
    assert "has label 'Explicit', not 'Violence'" in mismatch.stderr
