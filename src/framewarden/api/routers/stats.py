"""Statistics for tuning: alerts that moderators dismissed as false positives.

``GET /v1/stats/false-positives`` counts dismissed alerts per label (the
labels their violations named) and per analyzer.  Alerts do not record which
analyzer produced a label, so a label is attributed to every running analyzer
that can emit it (a level-1 or level-2 name counts for each analyzer with a
label below it): "Explicit" on a server running nudenet and image_safety
counts for both.  Thresholds to change are in docs/analyzers/*.md; ``framewarden
calibrate`` proposes them from a folder of safe media.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from fastapi import APIRouter
from sqlalchemy import select

from framewarden import taxonomy
from framewarden.api.deps import RuntimeDep, SessionDep, ViewerDep
from framewarden.store.models import Alert

router = APIRouter(prefix="/v1", tags=["stats"])


def _emitters(analyzers: Iterable[Any]) -> dict[str, list[str]]:
    """Label (any level) -> names of the analyzers that can report it."""
    out: dict[str, set[str]] = {}
    for analyzer in analyzers:
        for label in analyzer.labels():
            if not taxonomy.is_label(label):
                continue  # tags never raise alerts
            for name in (label, *taxonomy.ancestors(label)):
                out.setdefault(name, set()).add(analyzer.name)
    return {label: sorted(names) for label, names in out.items()}


@router.get("/stats/false-positives")
def false_positives(
    session: SessionDep,
    runtime: RuntimeDep,
    _: ViewerDep,
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict[str, Any]:
    """Dismissed alerts, counted per label and per analyzer (viewer role)."""
    query = select(Alert.violations).where(Alert.status == "dismissed")
    if since is not None:
        query = query.where(Alert.created_at >= since)
    if until is not None:
        query = query.where(Alert.created_at < until)
    emitters = _emitters(runtime.moderator.analyzers)
    per_label: Counter[str] = Counter()
    per_analyzer: Counter[str] = Counter()
    alerts = 0
    for violations in session.scalars(query):
        alerts += 1
        labels = {str(v.get("label", "")) for v in violations or []} - {""}
        per_label.update(labels)
        per_analyzer.update({name for label in labels for name in emitters.get(label, ["unknown"])})
    return {
        "dismissed_alerts": alerts,
        "by_label": [
            {"label": label, "dismissed": n, "analyzers": emitters.get(label, [])}
            for label, n in sorted(per_label.items(), key=lambda item: (-item[1], item[0]))
        ],
        "by_analyzer": dict(sorted(per_analyzer.items(), key=lambda item: (-item[1], item[0]))),
    }
