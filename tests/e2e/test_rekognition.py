"""boto3's real Rekognition client against a real ``framewarden serve``, S3 on a real moto server.

Nothing is mocked: the server is a subprocess, the S3 store is moto's HTTP
server on loopback, requests are signed by botocore, and the SNS-shaped
completion goes over HTTP to a real receiver.  The ``hashlist`` analyzer with
a bank holding the mark image gives known answers.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto.server import ThreadedMotoServer

from tests.actions.webhook_server import Receiver, webhook_receiver
from tests.e2e.harness import free_port, wait_until
from tests.jobs.marked import MARK_LABEL, make_clip, make_mark

pytestmark = [pytest.mark.e2e]
FW = [sys.executable, "-m", "framewarden"]
TOPIC = "arn:aws:sns:us-east-1:123456789012:moderation-done"
BUCKET = "media"
NO_RETRY = Config(retries={"max_attempts": 1, "mode": "standard"})


@dataclass
class Serve:
    env: dict[str, str]
    log: Path
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Serve:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [*FW, "serve", "--port", str(self.port)],
            env=self.env,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
        )

        def healthy() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"serve exited: {self.log.read_text()[-3000:]}")
            try:
                return httpx.get(self.url + "/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        assert wait_until(healthy, 60), self.log.read_text()[-3000:]
        return self

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def cli(self, *args: str) -> str:
        return subprocess.run([*FW, *args], env=self.env, capture_output=True, check=True, text=True).stdout

    def rekognition(self, key_id: str, secret: str, **kw: Any) -> Any:
        return boto3.client(
            "rekognition",
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id=key_id,
            aws_secret_access_key=secret,
            **kw,
        )


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("rekmedia")
    mark = make_mark(root / "mark.png")
    from PIL import Image

    Image.new("RGB", (64, 48), (30, 120, 200)).save(root / "clean.jpg")
    return {
        "mark": mark,
        "clean": root / "clean.jpg",
        "clip": make_clip(root / "clip.mp4", mark, duration_s=6),
        "long": make_clip(root / "long.mp4", mark, duration_s=40, fps=10, marked=(10, 30)),
    }


@pytest.fixture(scope="module")
def s3(media: dict[str, Path]) -> Iterator[tuple[str, Any]]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    client = boto3.client(
        "s3",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    client.create_bucket(Bucket=BUCKET)
    for name in ("mark", "clean", "clip", "long"):
        client.upload_file(str(media[name]), BUCKET, media[name].name)
    try:
        yield url, client
    finally:
        server.stop()


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with webhook_receiver() as r:
        yield r


@pytest.fixture(scope="module")
def serve(
    tmp_path_factory: pytest.TempPathFactory, s3: tuple[str, Any], media: dict[str, Path], receiver: Receiver
) -> Iterator[Serve]:
    tmp_path = tmp_path_factory.mktemp("serve")
    config = tmp_path / "framewarden.toml"
    config.write_text(
        'analyzers = ["hashlist"]\n'
        "alert_escalation_s = 0\n"
        "rekognition_sample_interval_s = 0.5\n"
        f'watch_urls = ["s3://{BUCKET}/watched/"]\nwatch_interval_s = 0.2\n'
        f's3_endpoint_url = "{s3[0]}"\ns3_access_key_id = "test"\ns3_secret_access_key = "test"\n'
        f'[rekognition_sns_topics]\n"{TOPIC}" = "sns-http"\n'
        f'[[notification_targets]]\nname = "sns-http"\ntype = "webhook"\nurl = "{receiver.url}/sns"\n'
    )
    env = {**os.environ, "FRAMEWARDEN_DATA_DIR": str(tmp_path / "data"), "FRAMEWARDEN_CONFIG": str(config)}
    srv = Serve(env, tmp_path / "serve.log")
    srv.cli("banks", "add", "known", "--label", MARK_LABEL, str(media["mark"]))
    srv.start()
    yield srv
    srv.stop()


def aws_key(srv: Serve, role: str = "ingest") -> tuple[str, str]:
    info = json.loads(srv.cli("keys", "create", "--aws", "--role", role, "--json"))
    assert info["Role"] == role and info["AccessKeyId"].startswith("FWAK")
    return info["AccessKeyId"], info["SecretAccessKey"]


def code_of(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    return exc.value.response["Error"]["Code"], exc.value.response["ResponseMetadata"]["HTTPStatusCode"]


def test_detect_moderation_labels_bytes_s3_and_errors(serve: Serve, media: dict[str, Path]) -> None:
    key_id, secret = aws_key(serve)
    rek = serve.rekognition(key_id, secret, config=NO_RETRY)
    found = rek.detect_moderation_labels(Image={"Bytes": media["mark"].read_bytes()})
    names = [(lab["Name"], lab["TaxonomyLevel"]) for lab in found["ModerationLabels"]]
    assert (MARK_LABEL, 1) in names and found["ModerationModelVersion"].startswith("hashlist=")
    assert (
        rek.detect_moderation_labels(Image={"Bytes": media["clean"].read_bytes()})["ModerationLabels"] == []
    )
    from_s3 = rek.detect_moderation_labels(
        Image={"S3Object": {"Bucket": BUCKET, "Name": "mark.png"}}, MinConfidence=60
    )
    assert [lab["Name"] for lab in from_s3["ModerationLabels"]] == [
        lab["Name"] for lab in found["ModerationLabels"]
    ]
    cases = [
        ({"Bytes": b"\x89PNG\r\n\x1a\n" + b"\0" * (5 * 1024 * 1024)}, "ImageTooLargeException"),
        ({"Bytes": b"GIF89a not a jpeg or png"}, "InvalidImageFormatException"),
        ({"Bytes": b"\xff\xd8\xff truncated jpeg"}, "InvalidImageFormatException"),
        ({"S3Object": {"Bucket": BUCKET, "Name": "missing.png"}}, "InvalidS3ObjectException"),
    ]
    for image, expected in cases:
        with pytest.raises(ClientError) as exc:
            rek.detect_moderation_labels(Image=image)
        assert code_of(exc) == (expected, 400), image.keys()
    with pytest.raises(ClientError) as exc:
        rek.detect_moderation_labels(Image={"Bytes": media["clean"].read_bytes()}, MinConfidence=101)
    assert code_of(exc)[0] == "InvalidParameterException"
    # credentials: a wrong secret, an unknown key id, and a viewer that may not ingest
    with pytest.raises(ClientError) as exc:
        serve.rekognition(
            key_id, secret[:-1] + ("A" if secret[-1] != "A" else "B"), config=NO_RETRY
        ).detect_moderation_labels(Image={"Bytes": media["clean"].read_bytes()})
    assert code_of(exc) == ("InvalidSignatureException", 400)
    with pytest.raises(ClientError) as exc:
        serve.rekognition("FWAKAAAAAAAAAAAAAAAA", secret, config=NO_RETRY).detect_moderation_labels(
            Image={"Bytes": media["clean"].read_bytes()}
        )
    assert code_of(exc) == ("UnrecognizedClientException", 400)
    viewer = serve.rekognition(*aws_key(serve, "viewer"), config=NO_RETRY)
    with pytest.raises(ClientError) as exc:
        viewer.detect_moderation_labels(Image={"Bytes": media["clean"].read_bytes()})
    assert code_of(exc) == ("AccessDeniedException", 400)
    # the same endpoint under the configured prefix; and a plain API key is not a SigV4 credential
    prefixed = boto3.client(
        "rekognition", endpoint_url=serve.url + "/rekognition", region_name="eu-west-1",
        aws_access_key_id=key_id, aws_secret_access_key=secret, config=NO_RETRY,
    )  # fmt: skip
    assert prefixed.detect_moderation_labels(Image={"Bytes": media["mark"].read_bytes()})["ModerationLabels"]
    log = serve.log.read_text()
    assert secret not in log and secret[:-1] not in log


def start_and_poll(rek: Any, name: str, **start: Any) -> dict[str, Any]:
    """The loop as a Rekognition user writes it."""
    job_id = rek.start_content_moderation(Video={"S3Object": {"Bucket": BUCKET, "Name": name}}, **start)[
        "JobId"
    ]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        response = rek.get_content_moderation(JobId=job_id, SortBy="TIMESTAMP")
        if response["JobStatus"] != "IN_PROGRESS":
            return dict(response)
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} still IN_PROGRESS")


def test_video_job_start_poll_pages_sorts_aggregates_and_sns(
    serve: Serve, receiver: Receiver, media: dict[str, Path]
) -> None:
    rek = serve.rekognition(*aws_key(serve))
    done = start_and_poll(
        rek, "clip.mp4", MinConfidence=50, JobTag="batch-7", ClientRequestToken="tok-1",
        NotificationChannel={"SNSTopicArn": TOPIC, "RoleArn": "arn:aws:iam::123456789012:role/x"},
    )  # fmt: skip
    assert done["JobStatus"] == "SUCCEEDED" and done["JobTag"] == "batch-7"
    assert done["Video"] == {"S3Object": {"Bucket": BUCKET, "Name": "clip.mp4"}}
    assert done["VideoMetadata"]["DurationMillis"] == 6000
    job_id = done["JobId"]
    # idempotency: the same token gives the same job
    again = rek.start_content_moderation(
        Video={"S3Object": {"Bucket": BUCKET, "Name": "clip.mp4"}}, ClientRequestToken="tok-1"
    )
    assert again["JobId"] == job_id
    stamps = [e["Timestamp"] for e in done["ModerationLabels"] if e["ModerationLabel"]["Name"] == MARK_LABEL]
    assert stamps and 1500 <= stamps[0] <= 2500
    # pages of 2 by NextToken give the whole list
    paged, token = [], None
    while True:
        kw = {"NextToken": token} if token else {}
        page = rek.get_content_moderation(JobId=job_id, MaxResults=2, **kw)
        assert len(page["ModerationLabels"]) <= 2
        paged += page["ModerationLabels"]
        token = page.get("NextToken")
        if not token:
            break
    assert paged == done["ModerationLabels"]
    by_name = rek.get_content_moderation(JobId=job_id, SortBy="NAME")["ModerationLabels"]
    names = [e["ModerationLabel"]["Name"] for e in by_name]
    assert names == sorted(names) and sorted(map(json.dumps, by_name)) == sorted(
        map(json.dumps, done["ModerationLabels"])
    )
    segments = rek.get_content_moderation(JobId=job_id, AggregateBy="SEGMENTS")
    assert segments["GetRequestMetadata"] == {"SortBy": "TIMESTAMP", "AggregateBy": "SEGMENTS"}
    seg = [s for s in segments["ModerationLabels"] if s["ModerationLabel"]["Name"] == MARK_LABEL]
    assert (
        len(seg) == 1
        and seg[0]["DurationMillis"] == seg[0]["EndTimestampMillis"] - seg[0]["StartTimestampMillis"] >= 1500
    )
    with pytest.raises(ClientError) as exc:
        rek.get_content_moderation(JobId="0" * 32)
    assert code_of(exc)[0] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as exc:
        rek.get_content_moderation(JobId=job_id, NextToken="garbage!")
    assert code_of(exc)[0] == "InvalidPaginationTokenException"
    # the SNS-shaped completion reached the HTTP receiver
    assert wait_until(lambda: receiver.requests, 15)
    note = json.loads(receiver.requests[0].body)
    assert note["Type"] == "Notification" and note["TopicArn"] == TOPIC
    message = json.loads(note["Message"])
    assert (message["JobId"], message["Status"], message["API"], message["JobTag"]) == (
        job_id, "SUCCEEDED", "StartContentModeration", "batch-7",
    )  # fmt: skip
    assert message["Video"] == {"S3ObjectName": "clip.mp4", "S3Bucket": BUCKET}


def test_kill_9_mid_job_resumes_to_the_same_results(serve: Serve) -> None:
    admin = json.loads(serve.cli("keys", "create", "--role", "admin", "--json"))["key"]
    rek = serve.rekognition(*aws_key(serve))
    job_id = rek.start_content_moderation(Video={"S3Object": {"Bucket": BUCKET, "Name": "long.mp4"}})["JobId"]

    def analyzed() -> int:
        job = httpx.get(f"{serve.url}/v1/jobs/{job_id}", headers={"Authorization": f"Bearer {admin}"}).json()
        assert job["status"] == "running", job  # it must still be running when killed
        return int(job["summary"].get("FramesAnalyzed", 0))

    assert wait_until(lambda: analyzed() > 0, 60, 0.02)
    serve.kill9()
    serve.start()
    assert wait_until(lambda: "resuming 1 unfinished job" in serve.log.read_text(), 10)
    resumed = start_and_poll(serve.rekognition(*aws_key(serve)), "long.mp4", ClientRequestToken="never-used")
    # the second call above is a fresh, uninterrupted job of the same video on the restarted server
    rek = serve.rekognition(*aws_key(serve))
    first = rek.get_content_moderation(JobId=job_id)
    deadline = time.monotonic() + 120
    while first["JobStatus"] == "IN_PROGRESS" and time.monotonic() < deadline:
        time.sleep(0.2)
        first = rek.get_content_moderation(JobId=job_id)
    assert first["JobStatus"] == "SUCCEEDED" and resumed["JobStatus"] == "SUCCEEDED"
    assert first["ModerationLabels"] == resumed["ModerationLabels"] and first["ModerationLabels"]
    for agg in ("SEGMENTS",):
        a = rek.get_content_moderation(JobId=job_id, AggregateBy=agg)["ModerationLabels"]
        b = rek.get_content_moderation(JobId=resumed["JobId"], AggregateBy=agg)["ModerationLabels"]
        assert a == b


def test_server_watch_setting_moderates_each_new_object_once(
    serve: Serve, s3: tuple[str, Any], media: dict[str, Path]
) -> None:
    admin = json.loads(serve.cli("keys", "create", "--role", "viewer", "--json"))["key"]
    s3[1].upload_file(str(media["clip"]), BUCKET, "watched/new.mp4")

    def jobs() -> list[dict[str, Any]]:
        body = httpx.get(
            f"{serve.url}/v1/jobs", params={"limit": 500}, headers={"Authorization": f"Bearer {admin}"}
        )
        return [j for j in body.json()["items"] if j["source"] == f"s3://{BUCKET}/watched/new.mp4"]

    assert wait_until(lambda: [j["status"] for j in jobs()] == ["succeeded"], 60), jobs()
    time.sleep(1.0)  # five more listings of the bucket: still one job for the one version
    assert len(jobs()) == 1 and jobs()[0]["tag"] == "watch"
