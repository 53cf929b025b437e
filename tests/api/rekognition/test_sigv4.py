"""SigV4 verification against reference signatures made by botocore's own signer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from framewarden.api.rekognition.errors import AwsError
from framewarden.api.rekognition.sigv4 import SignedRequest, verify

KEY_ID, SECRET = "FWAKABCDEFGHIJKLMNOP", "s3cr3t/s3cr3t+s3cr3t"
BODY = b'{"Image": {"Bytes": "aGVsbG8="}}'
URL = "http://127.0.0.1:8080/"


def signed(
    body: bytes = BODY, *, secret: str = SECRET, service: str = "rekognition", url: str = URL
) -> SignedRequest:
    request = AWSRequest(
        method="POST",
        url=url,
        data=body,
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "RekognitionService.DetectModerationLabels",
            "User-Agent": "Boto3/test",
        },
    )
    SigV4Auth(Credentials(KEY_ID, secret), service, "us-east-1").add_auth(request)
    headers = {k.lower(): v for k, v in request.headers.items()}
    headers["host"] = url.split("/")[2]
    return SignedRequest("POST", url, headers, body)


def lookup(key_id: str) -> str | None:
    return SECRET if key_id == KEY_ID else None


def test_a_botocore_signature_verifies() -> None:
    cred = verify(signed(), lookup)
    assert (cred.access_key_id, cred.region, cred.service) == (KEY_ID, "us-east-1", "rekognition")
    assert verify(signed(url="http://localhost:9/rekognition/?x=1"), lookup).access_key_id == KEY_ID


def _tamper_body(r: SignedRequest) -> SignedRequest:
    return SignedRequest(r.method, r.url, r.headers, r.body + b" ")


def _tamper_header(r: SignedRequest) -> SignedRequest:
    return SignedRequest(
        r.method, r.url, {**r.headers, "x-amz-target": "RekognitionService.GetContentModeration"}, r.body
    )


def _tamper_host(r: SignedRequest) -> SignedRequest:
    return SignedRequest(r.method, r.url, {**r.headers, "host": "evil:1"}, r.body)


def _no_auth(r: SignedRequest) -> SignedRequest:
    return SignedRequest(
        r.method, r.url, {k: v for k, v in r.headers.items() if k != "authorization"}, r.body
    )


def _garbled(r: SignedRequest) -> SignedRequest:
    return SignedRequest(r.method, r.url, {**r.headers, "authorization": "AWS4-HMAC-SHA256 nonsense"}, r.body)


@pytest.mark.parametrize(
    ("change", "code"),
    [
        (_tamper_body, "InvalidSignatureException"),
        (_tamper_header, "InvalidSignatureException"),
        (_tamper_host, "InvalidSignatureException"),
        (_no_auth, "MissingAuthenticationTokenException"),
        (_garbled, "IncompleteSignatureException"),
    ],
)
def test_changed_requests_are_refused(change: object, code: str) -> None:
    with pytest.raises(AwsError) as exc:
        verify(change(signed()), lookup)  # type: ignore[operator]
    assert exc.value.code == code


def test_wrong_secret_unknown_key_and_wrong_service() -> None:
    with pytest.raises(AwsError) as exc:
        verify(signed(secret="not-the-secret"), lookup)
    assert exc.value.code == "InvalidSignatureException" and "does not match" in exc.value.message
    with pytest.raises(AwsError) as exc:
        verify(signed(), lambda _: None)
    assert (exc.value.code, exc.value.status) == ("UnrecognizedClientException", 400)
    with pytest.raises(AwsError) as exc:
        verify(signed(service="s3"), lookup)
    assert exc.value.code == "InvalidSignatureException"


@pytest.mark.parametrize(("skew_s", "ok"), [(-290, True), (290, True), (-310, False), (310, False)])
def test_five_minute_clock_skew(skew_s: int, ok: bool) -> None:
    request = signed()
    signed_at = datetime.strptime(request.headers["x-amz-date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    now = signed_at + timedelta(seconds=skew_s)
    if ok:
        assert verify(request, lookup, now=now).access_key_id == KEY_ID
    else:
        with pytest.raises(AwsError) as exc:
            verify(request, lookup, now=now)
        assert exc.value.code == "InvalidSignatureException" and "expired" in exc.value.message
