"""AWS Signature Version 4 checked on the server side, with botocore's own signer.

The canonical request, string to sign and signature are computed by
``botocore.auth.SigV4Auth`` from the headers the client says it signed, at
the time the client says it signed; only the parsing of the
``Authorization`` header and the time window are ours.  A request is
refused as AWS refuses it: no or malformed credentials ->
``MissingAuthenticationTokenException`` / ``IncompleteSignatureException``,
unknown key id -> ``UnrecognizedClientException``, wrong signature or a
clock more than 5 minutes off -> ``InvalidSignatureException``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from framewarden.api.rekognition.errors import AwsError

MAX_SKEW_S = 300.0
SERVICE = "rekognition"
_AUTH = re.compile(
    r"AWS4-HMAC-SHA256\s+Credential=(?P<cred>[^,\s]+),\s*SignedHeaders=(?P<signed>[^,\s]+),\s*Signature=(?P<sig>[0-9a-f]{64})$"
)


@dataclass(frozen=True, slots=True)
class SignedRequest:
    method: str
    url: str  # scheme://host/path?query, as the client addressed it
    headers: Mapping[str, str]  # lower-case names
    body: bytes


@dataclass(frozen=True, slots=True)
class Credential:
    access_key_id: str
    date: str
    region: str
    service: str


SecretLookup = Callable[[str], str | None]  # access key id -> secret, or None if unknown


def verify(request: SignedRequest, lookup: SecretLookup, *, now: datetime | None = None) -> Credential:
    """The verified credential of ``request``; raises :class:`AwsError` otherwise."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    auth = request.headers.get("authorization", "")
    if not auth:
        raise AwsError("MissingAuthenticationTokenException", "Missing Authentication Token")
    match = _AUTH.match(auth.strip())
    if match is None:
        raise AwsError("IncompleteSignatureException", "Authorization header is not a SigV4 signature")
    parts = match["cred"].split("/")
    if len(parts) != 5 or parts[4] != "aws4_request":
        raise AwsError("IncompleteSignatureException", "Credential should be scoped correctly")
    cred = Credential(parts[0], parts[1], parts[2], parts[3])
    if cred.service != SERVICE:
        raise AwsError(
            "InvalidSignatureException", f"Credential should be scoped to correct service: '{SERVICE}'"
        )
    amz_date = request.headers.get("x-amz-date", "")
    try:
        signed_at = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise AwsError("IncompleteSignatureException", "X-Amz-Date header is missing or malformed") from None
    if amz_date[:8] != cred.date:
        raise AwsError("InvalidSignatureException", "Date in Credential scope does not match X-Amz-Date")
    secret = lookup(cred.access_key_id)
    if secret is None:
        raise AwsError(
            "UnrecognizedClientException", "The security token included in the request is invalid."
        )
    current = now or datetime.now(UTC)
    if abs((current - signed_at).total_seconds()) > MAX_SKEW_S:
        raise AwsError(
            "InvalidSignatureException",
            f"Signature expired: {amz_date} is now earlier than {current.strftime('%Y%m%dT%H%M%SZ')} "
            "(more than 5 minutes apart).",
        )
    signed = match["signed"].split(";")
    if "host" not in signed:
        raise AwsError(
            "InvalidSignatureException", "'Host' must be a 'SignedHeader' in the AWS Authorization."
        )
    declared = request.headers.get("x-amz-content-sha256")
    if declared is not None and declared != hashlib.sha256(request.body).hexdigest():
        raise AwsError(
            "InvalidSignatureException", "The provided x-amz-content-sha256 header does not match."
        )
    headers = {name: request.headers.get(name, "") for name in signed}
    aws_request = AWSRequest(method=request.method, url=request.url, headers=headers, data=request.body)
    aws_request.context["timestamp"] = amz_date
    signer = SigV4Auth(Credentials(cred.access_key_id, secret), cred.service, cred.region)
    canonical = signer.canonical_request(aws_request)
    expected = signer.signature(signer.string_to_sign(aws_request, canonical), aws_request)
    if not hmac.compare_digest(expected, match["sig"]):
        raise AwsError(
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method.",
        )
    return cred
