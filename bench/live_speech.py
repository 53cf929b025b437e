"""Live spoken-phrase alert latency: phrase said on a live channel -> alert raised.

    python bench/live_speech.py [--alerts 3] [--model whisper]

A real FFmpeg publishes (at real time, looped) a clip whose audio says the
blocklisted phrase once every loop to a private nginx-rtmp; the runtime
transcribes the channel.  Latency = wall time of the alert event minus the
wall time the phrase finished playing in the publisher (its start + the
phrase's end in the clip + whole loops).  Alert grouping is off, so every
loop raises its own alert.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from framewarden.api.runtime import Runtime
from framewarden.config import Settings
from framewarden.events import Event

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.speech.media

from tests.e2e.harness import NginxRtmp, Publisher
from tests.speech.media import PHRASE, SENTENCES, Line, make_clip

LOOP_S = 10.0
PHRASE_AT_S = 5.0
PHRASE_LEN_S = 1.6  # "purple monkey dishwasher" at espeak-ng's 150 words a minute


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=3)
    parser.add_argument("--model", default="whisper")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        clip = make_clip(work / "talk.mp4", [Line(0.5, SENTENCES[3]), Line(PHRASE_AT_S, PHRASE)], LOOP_S,
                         pattern="testsrc")  # fmt: skip
        settings = Settings(data_dir=work / "data", analyzers=["hashlist"], text_blocklist=[PHRASE],
                            live_transcribe=True, alert_group_s=0, alert_escalation_s=0,
                            speech_options={"model": args.model})  # fmt: skip
        runtime = Runtime(settings).start()
        alerts: list[float] = []
        done = threading.Event()

        def on_event(event: Event) -> None:
            if event.payload.get("flagged"):
                alerts.append(time.time())
                if len(alerts) >= args.alerts:
                    done.set()

        runtime.bus.subscribe(on_event, {"speech"})
        with NginxRtmp(work / "nginx") as nginx:
            publisher = Publisher(clip, nginx.rtmp_url("talk"), audio=True).start()
            started = time.time()
            nginx.wait_publishing("talk", 15)
            runtime.channels.add("talk", nginx.rtmp_url("talk"), start=True)
            done.wait(LOOP_S * (args.alerts + 3))
            publisher.close()
        stats = runtime.live_speech.running["talk"].stats
        runtime.stop()
    latencies = []
    for at in alerts:
        loops = (at - started - PHRASE_AT_S - PHRASE_LEN_S) // LOOP_S
        latencies.append(at - (started + loops * LOOP_S + PHRASE_AT_S + PHRASE_LEN_S))
    print(f"model {args.model}: {len(latencies)} alerts; phrase end -> alert s: "
          f"{', '.join(f'{x:.2f}' for x in latencies)}; median {statistics.median(latencies):.2f}; "
          f"dropped audio {stats.dropped_s:.1f} s; transcribed {stats.audio_s:.1f} s")  # fmt: skip


if __name__ == "__main__":
    main()
