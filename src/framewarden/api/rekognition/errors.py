"""AWS JSON 1.1 errors, as Rekognition answers them.

The body is ``{"__type": <code>, "message": <text>}`` with the status AWS
uses for that code, so boto3 raises ``ClientError`` with the same
``Error.Code`` and its retry handler treats throttling as AWS's.
"""

from __future__ import annotations

from fastapi.responses import JSONResponse

CONTENT_TYPE = "application/x-amz-json-1.1"

STATUS: dict[str, int] = {
    "AccessDeniedException": 400,
    "ImageTooLargeException": 400,
    "InvalidImageFormatException": 400,
    "InvalidParameterException": 400,
    "InvalidS3ObjectException": 400,
    "InvalidPaginationTokenException": 400,
    "ResourceNotFoundException": 400,
    "IdempotentParameterMismatchException": 400,
    "LimitExceededException": 400,
    "VideoTooLargeException": 400,
    "ProvisionedThroughputExceededException": 400,
    "ThrottlingException": 500,
    "InternalServerError": 500,
    "UnrecognizedClientException": 400,
    "InvalidSignatureException": 400,
    "IncompleteSignatureException": 400,
    "MissingAuthenticationTokenException": 403,
    "UnknownOperationException": 400,
    "SerializationException": 400,
}


class AwsError(Exception):
    """An error answered in AWS's JSON shape."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message

    @property
    def status(self) -> int:
        return STATUS.get(self.code, 400)

    def response(self, request_id: str) -> JSONResponse:
        return JSONResponse(
            {"__type": self.code, "message": self.message},
            status_code=self.status,
            media_type=CONTENT_TYPE,
            headers={"x-amzn-RequestId": request_id, "x-amzn-ErrorType": self.code},
        )
