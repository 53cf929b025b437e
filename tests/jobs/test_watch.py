"""The bucket watcher on a real S3 server (moto): each object version handled once, across restarts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer
from typer.testing import CliRunner

from framewarden.cli import app as cli_app
from framewarden.config import Settings, get_settings
from framewarden.jobs.watch import BucketWatcher, ObjectVersion
from tests.e2e.harness import free_port
from tests.jobs.marked import MARK_LABEL, make_mark


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def _bucket(url: str, name: str, versioned: bool) -> Any:
    s3 = boto3.client(
        "s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t"
    )
    s3.create_bucket(Bucket=name)
    if versioned:
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return s3


@pytest.mark.parametrize("versioned", [True, False])
def test_each_version_once_across_restarts(moto_url: str, tmp_path: Path, versioned: bool) -> None:
    bucket = f"watch-{'v' if versioned else 'plain'}"
    s3 = _bucket(moto_url, bucket, versioned)
    settings = Settings(
        data_dir=tmp_path, s3_endpoint_url=moto_url, s3_access_key_id="t", s3_secret_access_key="t"
    )
    seen: list[ObjectVersion] = []
    url = f"s3://{bucket}/in/"
    s3.put_object(Bucket=bucket, Key="in/a.jpg", Body=b"one")
    s3.put_object(Bucket=bucket, Key="out/ignored.jpg", Body=b"x")
    assert [o.key for o in BucketWatcher(url, settings, seen.append).poll_once()] == ["in/a.jpg"]
    # a new watcher (a restart) reads the cursor: nothing is handed twice
    assert BucketWatcher(url, settings, seen.append).poll_once() == []
    s3.put_object(Bucket=bucket, Key="in/b.jpg", Body=b"two")
    s3.put_object(Bucket=bucket, Key="in/a.jpg", Body=b"one, edited")  # a new version of a
    handled = BucketWatcher(url, settings, seen.append).poll_once()
    assert sorted(o.key for o in handled) == ["in/a.jpg", "in/b.jpg"]
    assert len({(o.key, o.version) for o in seen}) == len(seen) == 3
    # a handler failure leaves the object for the next poll
    s3.put_object(Bucket=bucket, Key="in/c.jpg", Body=b"three")

    def failing(_: ObjectVersion) -> None:
        raise RuntimeError("down")

    assert BucketWatcher(url, settings, failing).poll_once() == []
    assert [o.key for o in BucketWatcher(url, settings, seen.append).poll_once()] == ["in/c.jpg"]


def test_cli_watch_once_moderates_new_images(moto_url: str, tmp_path: Path, isolated_settings: Path) -> None:
    s3 = _bucket(moto_url, "cli-watch", versioned=True)
    mark = make_mark(tmp_path / "mark.png")
    runner = CliRunner()
    assert runner.invoke(cli_app, ["banks", "add", "known", "--label", MARK_LABEL, str(mark)]).exit_code == 0
    s3.put_object(Bucket="cli-watch", Key="up/mark.png", Body=mark.read_bytes())
    env = {
        "FRAMEWARDEN_S3_ENDPOINT_URL": moto_url,
        "FRAMEWARDEN_S3_ACCESS_KEY_ID": "t",
        "FRAMEWARDEN_S3_SECRET_ACCESS_KEY": "t",
        "FRAMEWARDEN_ANALYZERS": '["hashlist"]',
    }
    out = tmp_path / "out"
    get_settings.cache_clear()  # the env above is read by the next command
    args = ["watch", "s3://cli-watch/up/", "--out", str(out), "--once"]
    first = runner.invoke(cli_app, args, env=env)
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout.strip().splitlines()[-1])["source"] == "s3://cli-watch/up/mark.png"
    body = json.loads(next(out.glob("mark*.json")).read_text())
    assert MARK_LABEL in [lab["Name"] for lab in body["ModerationLabels"]]
    again = runner.invoke(cli_app, args, env=env)
    assert again.exit_code == 0 and again.stdout.strip() == ""
    bad = runner.invoke(cli_app, ["watch", "http://x/y", "--once"], env=env)
    assert bad.exit_code == 2 and "s3://bucket/prefix" in bad.output
    missing = runner.invoke(cli_app, ["watch", "s3://no-such-bucket/", "--once"], env=env)
    assert (
        missing.exit_code == 2
        and "s3://no-such-bucket/" in missing.output
        and "Traceback" not in missing.output
    )


def test_a_pinned_version_is_read_not_the_latest(moto_url: str, tmp_path: Path) -> None:
    from framewarden.media.s3 import parse_s3_url, s3_url
    from framewarden.media.source import open_video
    from tests.jobs.marked import make_clip

    s3 = _bucket(moto_url, "pinned", versioned=True)
    mark = make_mark(tmp_path / "mark.png")
    first = s3.put_object(
        Bucket="pinned",
        Key="v/a b.mp4",
        Body=make_clip(tmp_path / "2s.mp4", mark, duration_s=2, fps=5).read_bytes(),
    )["VersionId"]
    s3.put_object(
        Bucket="pinned",
        Key="v/a b.mp4",
        Body=make_clip(tmp_path / "3s.mp4", mark, duration_s=3, fps=5).read_bytes(),
    )
    settings = Settings(
        data_dir=tmp_path, s3_endpoint_url=moto_url, s3_access_key_id="t", s3_secret_access_key="t"
    )
    url = s3_url("pinned", "v/a b.mp4", first)
    assert parse_s3_url(url).key == "v/a b.mp4" and parse_s3_url(url).version == first
    with (
        open_video(url, settings=settings) as old,
        open_video(s3_url("pinned", "v/a b.mp4"), settings=settings) as new,
    ):
        assert (old.metadata.duration_ms, new.metadata.duration_ms) == (2000, 3000)
