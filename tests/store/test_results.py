"""Results: time-range queries and stable pages by channel, media-time pages by job."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from framewarden.errors import InputError
from framewarden.store import jobs, results
from framewarden.store.db import Database

T0 = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
EXPLICIT = [
    {"Name": "Explicit", "ParentName": "", "TaxonomyLevel": 1, "Confidence": 91.0},
    {"Name": "Explicit Nudity", "ParentName": "Explicit", "TaxonomyLevel": 2, "Confidence": 91.0},
    {
        "Name": "Exposed Female Nipple",
        "ParentName": "Explicit Nudity",
        "TaxonomyLevel": 3,
        "Confidence": 91.0,
    },
    {"Name": "Weapons", "ParentName": "Violence", "TaxonomyLevel": 2, "Confidence": 40.0},
]


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        ([], (None, 0.0)),
        (EXPLICIT, ("Exposed Female Nipple", 91.0)),
        (EXPLICIT[3:], ("Weapons", 40.0)),
    ],
)
def test_top_label_is_the_deepest_most_confident(labels: list[dict[str, object]], expected: object) -> None:
    assert results.top_of(labels) == expected


def test_add_and_read_back(db: Database) -> None:
    with db.begin() as s:
        r = results.add_result(
            s,
            channel="live-1",
            labels=EXPLICIT,
            frame_seq=7,
            pts_ms=1234.5,
            analyzed_at=T0,
            evidence_key="k/1.jpg",
        )
    with db.read() as s:
        got = results.get_result(s, result_id=r.id)
        assert got is not None
        assert (got.top_label, got.peak_confidence, got.frame_seq, got.pts_ms) == (
            "Exposed Female Nipple",
            91.0,
            7,
            1234.5,
        )
        assert got.labels == EXPLICIT and got.analyzed_at == T0 and got.evidence_key == "k/1.jpg"


def _fill(db: Database, channel: str, n: int, *, step_s: float = 1.0) -> None:
    with db.begin() as s:
        # inserted out of time order, and two per timestamp: order must come from the query
        for i in reversed(range(n)):
            at = T0 + timedelta(seconds=(i // 2) * step_s)
            results.add_result(
                s, channel=channel, frame_seq=i, analyzed_at=at, labels=EXPLICIT if i % 3 else []
            )


def test_pages_cover_a_time_range_in_order_without_gaps_or_repeats(db: Database) -> None:
    _fill(db, "live-1", 25)
    _fill(db, "live-10", 5)  # another channel, same times
    seen: list[tuple[datetime, int]] = []
    cursor = None
    with db.read() as s:
        while True:
            page = results.list_channel_results(
                s,
                channel="live-1",
                since=T0 + timedelta(seconds=2),
                until=T0 + timedelta(seconds=10),
                cursor=cursor,
                limit=4,
            )
            seen += [(r.analyzed_at, r.id) for r in page.items]
            assert all(r.channel == "live-1" for r in page.items)
            cursor = page.next_cursor
            if cursor is None:
                break
    assert len(seen) == 16  # seconds 2..9, two results each
    assert seen == sorted(seen)
    assert seen[0][0] == T0 + timedelta(seconds=2) and seen[-1][0] == T0 + timedelta(seconds=9)


def test_newest_first_and_flagged_only(db: Database) -> None:
    _fill(db, "c", 6)
    with db.read() as s:
        newest = results.list_channel_results(s, channel="c", newest_first=True, limit=100).items
        flagged = results.list_channel_results(s, channel="c", flagged_only=True).items
    assert [r.analyzed_at for r in newest] == sorted((r.analyzed_at for r in newest), reverse=True)
    assert sorted(r.frame_seq for r in flagged) == [1, 2, 4, 5]


def test_rows_appended_between_pages_do_not_shift_them(db: Database) -> None:
    _fill(db, "c", 6)
    with db.read() as s:
        first = results.list_channel_results(s, channel="c", limit=3)
    with db.begin() as s:  # a live worker writes meanwhile
        results.add_result(s, channel="c", analyzed_at=T0 + timedelta(hours=1))
    with db.read() as s:
        second = results.list_channel_results(s, channel="c", cursor=first.next_cursor, limit=3)
        third = results.list_channel_results(s, channel="c", cursor=second.next_cursor, limit=3)
    ids = [r.id for r in first.items + second.items + third.items]
    assert len(ids) == len(set(ids)) == 7 and third.next_cursor is None


def test_job_results_sort_by_media_time(db: Database) -> None:
    with db.begin() as s:
        jobs.create_job(s, kind="video", job_id="j")
        for pts in (3000.0, 0.0, 1000.0, 2000.0):
            results.add_result(s, channel="file", job_id="j", pts_ms=pts)
        results.add_result(s, channel="file", pts_ms=500.0)  # not this job
    with db.read() as s:
        page1 = results.list_job_results(s, job_id="j", limit=3)
        page2 = results.list_job_results(s, job_id="j", cursor=page1.next_cursor, limit=3)
        assert results.count_results(s, job_id="j") == 4
    assert [r.pts_ms for r in page1.items + page2.items] == [0.0, 1000.0, 2000.0, 3000.0]
    assert page2.next_cursor is None


def test_retention_deletes_old_results_only(db: Database) -> None:
    _fill(db, "c", 6)
    with db.begin() as s:
        assert results.delete_results_before(s, before=T0 + timedelta(seconds=1)) == 2
    with db.read() as s:
        assert results.count_results(s, channel="c") == 4


@pytest.mark.parametrize(("cursor", "limit"), [("not-a-cursor!", 10), (None, 0), (None, 100_000)])
def test_bad_paging_input_is_named(db: Database, cursor: str | None, limit: int) -> None:
    with pytest.raises(InputError, match=r"^(cursor|limit):"), db.read() as s:
        results.list_channel_results(s, channel="c", cursor=cursor, limit=limit)
