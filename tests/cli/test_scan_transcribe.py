"""``framewarden scan --transcribe``: transcript, spoken labels and subtitles beside the results."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO
from tests.speech.media import PHRASE, SENTENCES, Line, make_clip


def test_scan_transcribe_writes_transcript_labels_and_subtitles(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "talk.mp4", [Line(0.5, SENTENCES[1]), Line(4.0, f"you said {PHRASE}")], 7.0)
    silent = make_clip(tmp_path / "silent.mp4", [], 2.0, audio=False)
    out = tmp_path / "out"
    env = {**os.environ, "FRAMEWARDEN_TEXT_BLOCKLIST": json.dumps([PHRASE])}
    args = [sys.executable, "-m", "tests.jobs.fwscan", "scan", str(clip), str(silent), "--out", str(out),
            "--analyzers", "redbox", "--transcribe", "-q"]  # fmt: skip
    done = subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr
    [result] = [p for p in out.rglob("*.json") if p.stem.startswith("talk")]
    body = json.loads(result.read_text())
    assert body["Transcript"]["LanguageCode"] == "en" and len(body["Transcript"]["Segments"]) == 2
    [spoken] = body["TextModerationLabels"]
    assert spoken["Name"] == "Blocklisted Text" and 3500 <= spoken["StartTimestampMillis"] <= 4500
    names = {(e["Timestamp"], e["ModerationLabel"]["Name"]) for e in body["ModerationLabels"]}
    assert (spoken["StartTimestampMillis"], "Offensive Text") in names  # ancestors come with it
    vtt = result.with_suffix(".vtt").read_text()
    assert vtt.startswith("WEBVTT") and "report" in vtt.lower()
    assert result.with_suffix(".srt").read_text().startswith("1\n")
    [quiet] = [p for p in out.rglob("*.json") if p.stem.startswith("silent")]
    no_audio = {"HasAudio": False, "LanguageCode": None, "Segments": []}
    assert json.loads(quiet.read_text())["Transcript"] == no_audio
