"""The Rule contract: what an operator writes, validated once, at save time.

A rule is plain data (pydantic, ``extra="forbid"``) so the store can keep it
as JSON (``rule.model_dump(mode="json")``) and read it back unchanged.  Every
check that can fail (label names, the channel regex, thresholds) runs in the
validators, so a bad rule is refused when it is saved, naming the rule and
the field, instead of failing on the first frame of a live stream.

Names are kept as written (JSON round trip stays exact); the model-7 view
the evaluator needs comes from :meth:`Rule.effective_labels` and
:meth:`Rule.effective_ignore`, computed from the fields on demand.
"""

from __future__ import annotations

import logging
import re
import re._parser as _sre_parse  # the regex parser (3.11+), only to bound pathological patterns
import threading
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from framewarden import taxonomy

log = logging.getLogger(__name__)

SLUG = re.compile(r"[a-z0-9][a-z0-9_-]*")
MAX_ID_LENGTH = 64
MAX_PATTERN_LENGTH = 256
# Channel names longer than this are cut before the pattern is searched, so a
# pattern's run time stays bounded even for a hostile channel name.
MAX_CHANNEL_LENGTH = 256

_warned_lock = threading.Lock()
_warned_v6: set[str] = set()


def _strict() -> ConfigDict:
    return ConfigDict(extra="forbid", frozen=True)


class Thresholds(BaseModel):
    """Minimum confidences (0-100) that trigger each tier; ``None`` = never."""

    model_config = _strict()

    alert: float | None = Field(None, ge=0, le=100, description="Record an alert and notify.")
    review: float | None = Field(None, ge=0, le=100, description="Also queue for human review.")
    auto_stop: float | None = Field(
        None, ge=0, le=100, description="Also stop the stream (needs K of N frames, see auto_stop_window)."
    )

    @model_validator(mode="after")
    def _at_least_one(self) -> Thresholds:
        if self.alert is None and self.review is None and self.auto_stop is None:
            raise ValueError("thresholds need at least one of alert, review, auto_stop")
        return self


class Similarity(BaseModel):
    """Skip a frame that looks like the channel's last analyzed one."""

    model_config = _strict()

    enabled: bool = Field(True, description="Drop near-duplicate frames before analysis.")
    max_distance: int = Field(
        8, ge=0, le=64, description="Largest Hamming distance (64-bit perceptual hash) still a duplicate."
    )
    max_gap_s: float = Field(
        10.0, ge=0, description="Analyze anyway after this much media time, duplicate or not."
    )


class Window(BaseModel):
    """K of the last N analyzed frames must cross an auto-stop threshold."""

    model_config = _strict()

    k: int = Field(1, ge=1, le=1000, description="Frames above an auto_stop threshold needed.")
    n: int = Field(1, ge=1, le=1000, description="Size of the window of analyzed frames.")

    @model_validator(mode="after")
    def _k_le_n(self) -> Window:
        if self.k > self.n:
            raise ValueError(f"auto_stop_window k={self.k} is larger than n={self.n}")
        return self


def check_pattern(pattern: str) -> re.Pattern[str]:
    """Compile a channel pattern or raise ``ValueError`` saying why not.

    Refuses overlong patterns and nested repetition such as ``(a+)+``, the
    shape that makes Python's backtracking engine take exponential time.
    """
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise ValueError(f"channel_pattern is {len(pattern)} characters long (max {MAX_PATTERN_LENGTH})")
    try:
        compiled = re.compile(pattern)
        parsed = _sre_parse.parse(pattern)
    except re.error as exc:
        raise ValueError(f"channel_pattern {pattern!r} is not a valid regex: {exc}") from None
    if _nested_repeat(parsed, inside_repeat=False):
        raise ValueError(
            f"channel_pattern {pattern!r} nests repetition (like (a+)+), which can backtrack forever"
        )
    return compiled


def _nested_repeat(items: Any, *, inside_repeat: bool) -> bool:
    repeats = {_sre_parse.MAX_REPEAT, _sre_parse.MIN_REPEAT, getattr(_sre_parse, "POSSESSIVE_REPEAT", None)}
    for op, arg in items:
        if op in repeats:
            _low, high, sub = arg
            unbounded = high == _sre_parse.MAXREPEAT or high > 1
            if unbounded and inside_repeat:
                return True
            if _nested_repeat(sub, inside_repeat=inside_repeat or unbounded):
                return True
        elif op == _sre_parse.SUBPATTERN:
            if _nested_repeat(arg[-1], inside_repeat=inside_repeat):
                return True
        elif op == _sre_parse.BRANCH:
            if any(_nested_repeat(branch, inside_repeat=inside_repeat) for branch in arg[1]):
                return True
        elif op in (_sre_parse.ASSERT, _sre_parse.ASSERT_NOT) and _nested_repeat(
            arg[1], inside_repeat=inside_repeat
        ):
            return True
    return False


def _translate(name: str, version: int, rule_id: str) -> tuple[str, ...]:
    """Model-7 names for a label written in a rule; warns once per v6 name in a v7 rule."""
    names = taxonomy.translate(name, from_version=version)
    if taxonomy.is_tag(name):
        raise ValueError(f"{name!r} is a content tag, not a moderation label")
    if version == 7 and taxonomy.is_v6_name(name):
        with _warned_lock:
            first = name not in _warned_v6
            _warned_v6.add(name)
        if first:
            log.warning(
                "rule %r: %r is a Rekognition model-6 name, read as %s", rule_id, name, " + ".join(names)
            )
    return names


class Rule(BaseModel):
    """Which labels matter on which channels, and what to do about them."""

    model_config = _strict()

    id: str = Field(..., min_length=1, max_length=MAX_ID_LENGTH, description="Slug: [a-z0-9][a-z0-9_-]*.")
    description: str = Field("", max_length=2000, description="Free text for operators.")
    enabled: bool = Field(True, description="Disabled rules are never resolved.")
    channel: str | None = Field(None, min_length=1, description="A channel rule: exactly this channel name.")
    channel_pattern: str | None = Field(
        None, description="A global rule: Python regex searched (re.search) in the channel name."
    )
    priority: int = Field(100, description="Lowest wins among matching global rules; ties by id.")
    taxonomy_version: Literal[6, 7] = Field(
        7, description="6 = label names are Rekognition model-6 names, translated to model 7."
    )
    sample_interval_s: float = Field(1.0, ge=0, description="Media seconds between analyzed frames; 0 = all.")
    trusted_sample_interval_s: float | None = Field(
        None, ge=0, description="Sample interval for channels marked trusted (None = sample_interval_s)."
    )
    similarity: Similarity = Field(
        default_factory=lambda: Similarity(), description="Near-duplicate frame skipping."
    )
    labels: dict[str, float | Thresholds] = Field(
        default_factory=dict,
        description="Taxonomy name (any level) -> min confidence for alert, or per-tier thresholds.",
    )
    ignore: list[str] = Field(default_factory=list, description="Names (any level) never considered.")
    auto_stop_window: Window = Field(
        default_factory=lambda: Window(), description="K of N frames for auto-stop."
    )
    notify: list[str] = Field(default_factory=list, description="Names of notification targets.")
    # No per-rule ``analyzers``: the server runs settings.analyzers on every analyzed frame, in
    # batches shared across channels; ``labels`` choose what a rule acts on (docs/rules.md).

    @model_validator(mode="before")
    @classmethod
    def _no_analyzers(cls, data: Any) -> Any:
        if isinstance(data, dict) and "analyzers" in data:
            raise ValueError(
                "analyzers: a rule cannot choose analyzers (the server runs settings.analyzers for "
                "every channel); select what the rule acts on with labels, and remove this field"
            )
        return data

    @field_validator("id")
    @classmethod
    def _slug(cls, v: str) -> str:
        if not SLUG.fullmatch(v):
            raise ValueError(f"rule id {v!r} must match [a-z0-9][a-z0-9_-]*")
        return v

    @field_validator("channel_pattern")
    @classmethod
    def _pattern(cls, v: str | None, info: ValidationInfo) -> str | None:
        if v is not None:
            try:
                check_pattern(v)
            except ValueError as exc:
                raise ValueError(f"rule {info.data.get('id', '?')!r}: {exc}") from None
        return v

    @field_validator("labels")
    @classmethod
    def _label_values(cls, v: dict[str, float | Thresholds]) -> dict[str, float | Thresholds]:
        for name, value in v.items():
            if isinstance(value, float | int) and not 0 <= value <= 100:
                raise ValueError(f"threshold of {name!r} is {value}, not within 0-100")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> Rule:
        if (self.channel is None) == (self.channel_pattern is None):
            raise ValueError(
                f"rule {self.id!r}: set exactly one of channel (a channel rule) "
                "or channel_pattern (a global rule)"
            )
        for field_name, names in (("labels", list(self.labels)), ("ignore", self.ignore)):
            for name in names:
                try:
                    _translate(name, self.taxonomy_version, self.id)
                except taxonomy.UnknownLabelError:
                    raise ValueError(f"rule {self.id!r}: {field_name}: unknown label {name!r}") from None
                except ValueError as exc:
                    raise ValueError(f"rule {self.id!r}: {field_name}: {exc}") from None
        return self

    # --- derived views ---------------------------------------------------
    @property
    def scope(self) -> Literal["channel", "global"]:
        return "channel" if self.channel is not None else "global"

    def matches(self, channel: str) -> bool:
        """True when this rule applies to ``channel`` (enabled or not)."""
        if self.channel is not None:
            return channel == self.channel
        assert self.channel_pattern is not None
        return re.search(self.channel_pattern, channel[:MAX_CHANNEL_LENGTH]) is not None

    def effective_labels(self) -> dict[str, Thresholds]:
        """Model-7 name -> thresholds, v6 names translated.

        A name written as is wins over one reached by translation; two
        translations landing on one name keep the stricter (lower) threshold
        of each tier.
        """
        direct: dict[str, Thresholds] = {}
        translated: dict[str, Thresholds] = {}
        for name, value in self.labels.items():
            limits = (
                value
                if isinstance(value, Thresholds)
                else Thresholds(alert=float(value), review=None, auto_stop=None)
            )
            targets = _translate(name, self.taxonomy_version, self.id)
            is_direct = targets == (name,)
            for target in targets:
                bucket = direct if is_direct else translated
                bucket[target] = _stricter(bucket[target], limits) if target in bucket else limits
        return {**translated, **direct}

    def effective_ignore(self) -> frozenset[str]:
        """Model-7 names whose subtrees are never considered."""
        return frozenset(t for name in self.ignore for t in _translate(name, self.taxonomy_version, self.id))


def _stricter(a: Thresholds, b: Thresholds) -> Thresholds:
    def low(x: float | None, y: float | None) -> float | None:
        return y if x is None else x if y is None else min(x, y)

    return Thresholds(
        alert=low(a.alert, b.alert), review=low(a.review, b.review), auto_stop=low(a.auto_stop, b.auto_stop)
    )
