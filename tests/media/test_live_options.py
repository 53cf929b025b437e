"""Source options in the URL fragment, SRT URL validation and the relay command, secrets redacted."""

from __future__ import annotations

import pytest

from framewarden.errors import InputError
from framewarden.media.live_options import LiveOptions, redact_text, redact_url, split_options
from framewarden.media.source import _open_options
from framewarden.media.srt_relay import parse_srt_url, relay_command


@pytest.mark.parametrize(
    ("source", "url", "options"),
    [
        ("rtsp://cam/s", "rtsp://cam/s", LiveOptions()),
        ("rtsp://cam/s?ch=1#rtsp_transport=udp", "rtsp://cam/s?ch=1", LiveOptions(rtsp_transport="udp")),
        (
            "rtsp://cam/s#timeout=2.5&stall_frames=60",
            "rtsp://cam/s",
            LiveOptions(timeout_s=2.5, stall_frames=60),
        ),
        ("https://cdn/x.m3u8#live_edge=0", "https://cdn/x.m3u8", LiveOptions(live_edge=False)),
    ],
)
def test_fragment_options(source: str, url: str, options: LiveOptions) -> None:
    assert split_options(source) == (url, options)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("rtsp://cam/s#rtsp_transport=http", "rtsp_transport must be tcp or udp"),
        ("rtsp://cam/s#timeout=0", "timeout must be within"),
        ("rtsp://cam/s#timeout=abc", "timeout must be a number"),
        ("rtsp://cam/s#stall_frames=1", "stall_frames must be within"),
        ("rtsp://cam/s#bogus=1", "unknown source option 'bogus'"),
        ("rtsp://cam/s#timeout=1&timeout=2", "given twice"),
        ("rtsp://u:hunter2@cam/s#nokey", "cannot read source options"),
    ],
)
def test_bad_fragment_options_are_refused(source: str, message: str) -> None:
    with pytest.raises(InputError, match=message) as info:
        split_options(source)
    assert "hunter2" not in str(info.value)


def test_ffmpeg_options_follow_the_source_options() -> None:
    assert _open_options("rtsp", True, 5.0, LiveOptions(rtsp_transport="udp"))["rtsp_transport"] == "udp"
    assert _open_options("rtsp", True, 5.0)["rtsp_transport"] == "tcp"
    assert _open_options("https", True, 5.0)["live_start_index"] == "-1"  # HLS at the live edge
    assert "live_start_index" not in _open_options("https", True, 5.0, LiveOptions(live_edge=False))
    assert "rw_timeout" not in _open_options("pipe", True, 5.0)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("rtsp://admin:hunter2@cam/s", "rtsp://admin:***@cam/s"),
        ("srt://h:1?mode=caller&passphrase=0123456789ab", "srt://h:1?mode=caller&passphrase=***"),
        ("https://cdn/x.m3u8?token=abc&q=1", "https://cdn/x.m3u8?token=***&q=1"),
        ("rtmp://host/app/key", "rtmp://host/app/key"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_redact_text_blanks_passwords_in_free_text() -> None:
    text = "srt://h:1?passphrase=supersecret1: Input/output error; rtsp://u:pw@h/x refused; raw supersecret1"
    out = redact_text(text, "supersecret1")
    assert "supersecret1" not in out and ":pw@" not in out


def test_srt_url_is_validated_and_rebuilt() -> None:
    srt = parse_srt_url("srt://127.0.0.1:9000?mode=listener&passphrase=0123456789ab&latency=120000")
    assert (srt.host, srt.port, srt.mode) == ("127.0.0.1", 9000, "listener")
    assert srt.url() == "srt://127.0.0.1:9000?mode=listener&passphrase=0123456789ab&latency=120000"
    assert parse_srt_url("srt://:9000?mode=listener").host == "0.0.0.0"
    argv = relay_command(srt, ffmpeg="/usr/bin/ffmpeg")
    assert argv[0] == "/usr/bin/ffmpeg" and argv[argv.index("-i") + 1] == srt.url()
    assert argv[-1] == "pipe:1" and "-c" in argv and argv[argv.index("-c") + 1] == "copy"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("srt://host?mode=caller", "needs a port"),
        ("srt://host:9000?mode=publisher", "SRT option mode='publisher'"),
        ("srt://host:9000?passphrase=short", "SRT option passphrase=\\*\\*\\*: must be 10 to 79"),
        ("srt://host:9000?latency=-5", "SRT option latency"),
        ("srt://host:9000?pkt_size=1316", "unsupported SRT option 'pkt_size'"),
        ("srt://host:9000?mode=caller&mode=listener", "given twice"),
        ("srt://u:p@host:9000", "no user, password or path"),
        ("srt://host:9000/path", "no user, password or path"),
        ("srt://:9000", "needs a host to call"),
        ("srt://host:9000?streamid=a%0Ab", "SRT option streamid"),
        ("srt://host:9000?x", "cannot read the SRT options"),
    ],
)
def test_bad_srt_urls_are_refused(url: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_srt_url(url)
