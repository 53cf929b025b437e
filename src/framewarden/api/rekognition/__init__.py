"""The Rekognition-compatible endpoint: AWS JSON 1.1 on ``POST /`` (and under a prefix).

``boto3.client("rekognition", endpoint_url=...)`` works unchanged: the
operation comes from ``X-Amz-Target: RekognitionService.<Operation>``, the
caller from its SigV4 signature (framewarden AWS-style keys, see
:mod:`framewarden.store.keys`), and every answer, errors included, is in the
shape and with the status AWS uses.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from framewarden.api.auth import ANONYMOUS_ADMIN, Principal
from framewarden.api.rekognition.errors import CONTENT_TYPE, AwsError
from framewarden.api.rekognition.operations import OPERATIONS
from framewarden.api.rekognition.sigv4 import SignedRequest, verify
from framewarden.api.runtime import Runtime
from framewarden.store import keys as keys_repo

log = logging.getLogger(__name__)

TARGET_PREFIX = "RekognitionService."
MAX_BODY = 8 * 1024 * 1024  # a 5 MB image, base64-encoded, plus the JSON around it
MAX_CONCURRENT = 64  # more requests at once than this: ThrottlingException (boto3 retries)


class _Gate:
    """Counts requests in progress; beyond the limit the endpoint sheds load."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._n = 0
        self._lock = threading.Lock()

    def enter(self) -> bool:
        with self._lock:
            if self._n >= self.limit:
                return False
            self._n += 1
            return True

    def leave(self) -> None:
        with self._lock:
            self._n -= 1


_masters: dict[str, bytes] = {}  # data dir -> master secret, read once per process


def _principal(runtime: Runtime, request: SignedRequest) -> Principal:
    if not runtime.settings.auth_enabled:
        return ANONYMOUS_ADMIN
    where = str(runtime.settings.data_dir)
    master = _masters.get(where) or _masters.setdefault(where, keys_repo.load_key_master(runtime.settings))
    found: dict[str, Principal] = {}

    def lookup(access_key_id: str) -> str | None:
        with runtime.db.begin() as session:
            hit = keys_repo.aws_key_secret(session, access_key_id=access_key_id, master=master)
            if hit is None:
                return None
            row, secret = hit
            found["p"] = Principal(row.id, row.name, row.role)
            return secret

    verify(request, lookup)
    return found["p"]


def _dispatch(runtime: Runtime, request: SignedRequest) -> dict[str, object]:
    principal = _principal(runtime, request)
    target = request.headers.get("x-amz-target", "")
    operation = OPERATIONS.get(target[len(TARGET_PREFIX) :]) if target.startswith(TARGET_PREFIX) else None
    if operation is None:
        raise AwsError("UnknownOperationException", f"operation {target!r} is not supported")
    allowed, _ = runtime.image_rate_limiter.allow(f"aws:{principal.key_id}")
    if not allowed:
        raise AwsError(
            "ProvisionedThroughputExceededException", "The rate of requests exceeds the limit for this key."
        )
    try:
        params = json.loads(request.body or b"{}")
    except ValueError:
        raise AwsError("SerializationException", "the body is not valid JSON") from None
    if not isinstance(params, dict):
        raise AwsError("SerializationException", "the body is not a JSON object")
    return operation(runtime, principal, params)


def install(app: FastAPI, prefix: str = "") -> None:
    """Answer AWS JSON calls on ``POST /`` and on ``POST <prefix>``."""
    gate = _Gate(MAX_CONCURRENT)

    async def endpoint(request: Request) -> Response:
        request_id = str(uuid.uuid4())
        runtime: Runtime = request.app.state.runtime
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_BODY:
            return AwsError("ImageTooLargeException", "Request body is too large.").response(request_id)
        body = await request.body()
        if len(body) > MAX_BODY:
            return AwsError("ImageTooLargeException", "Request body is too large.").response(request_id)
        host = request.headers.get("host", "")
        query = f"?{request.url.query}" if request.url.query else ""
        signed = SignedRequest(
            method=request.method,
            url=f"{request.url.scheme}://{host}{request.url.path}{query}",
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body,
        )
        if not gate.enter():
            return AwsError("ThrottlingException", "Rate exceeded").response(request_id)
        try:
            answer = await run_in_threadpool(_dispatch, runtime, signed)
        except AwsError as exc:
            if exc.code in {"UnrecognizedClientException", "InvalidSignatureException"}:
                log.info("rekognition call refused: %s", exc.code)  # never the key or the signature
            return exc.response(request_id)
        except Exception:
            log.exception("rekognition call failed")
            return AwsError("InternalServerError", "Internal server error").response(request_id)
        finally:
            gate.leave()
        return JSONResponse(answer, media_type=CONTENT_TYPE, headers={"x-amzn-RequestId": request_id})

    paths = ["/"]
    clean = "/" + prefix.strip("/") if prefix.strip("/") else ""
    if clean:
        paths += [clean, clean + "/"]
    for path in paths:
        app.add_api_route(path, endpoint, methods=["POST"], include_in_schema=False)
