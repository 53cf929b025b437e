"""Typed input errors survive pickling (they cross processes: Ray tasks, worker processes)."""

from __future__ import annotations

import pickle

import pytest

from framewarden.errors import CorruptInputError, InputError, SourceTimeoutError
from framewarden.jobs.state import ResumeMismatchError
from framewarden.media.s3 import S3AccessDeniedError


@pytest.mark.parametrize(
    "cls", [InputError, CorruptInputError, SourceTimeoutError, ResumeMismatchError, S3AccessDeniedError]
)
def test_input_errors_pickle_as_themselves(cls: type[InputError]) -> None:
    error = cls("s3://bucket/clip.mp4", "moov atom not found")
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is cls
    assert (copy.source, copy.reason, copy.kind, str(copy)) == (
        error.source,
        error.reason,
        error.kind,
        "s3://bucket/clip.mp4: moov atom not found",
    )
