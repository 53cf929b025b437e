"""Hypothesis: malformed bytes into the image decoder and the rules YAML importer give typed errors only.

A pushed image and an imported rules file come straight from clients.  Whatever
the bytes (random, or a valid file truncated, bit-flipped or spliced), the
answer is a decoded image / a list of rules, or a :class:`InputError` /
:class:`ConfigError` naming the input: never another exception, which the API
would turn into a 500.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from PIL import Image

from framewarden.errors import ConfigError, InputError
from framewarden.media.image import load_image
from framewarden.rules.defaults import default_rule
from framewarden.rules.models import Rule
from framewarden.rules.yaml_io import dump_rules, load_rules

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # PIL's notes on corrupt EXIF
FUZZ = settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


def _encoded(fmt: str) -> bytes:
    rng = np.random.default_rng(7)
    img = Image.fromarray(rng.integers(0, 255, (23, 31, 3), dtype=np.uint8))
    buf = io.BytesIO()
    img.save(buf, fmt)
    return buf.getvalue()


VALID = {fmt: _encoded(fmt) for fmt in ("PNG", "JPEG", "GIF", "WEBP", "BMP", "TIFF")}


@st.composite
def mangled_images(draw: st.DrawFn) -> bytes:
    """A valid image of some format, then truncated, bit-flipped, spliced or its header kept alone."""
    data = bytearray(VALID[draw(st.sampled_from(sorted(VALID)))])
    for _ in range(draw(st.integers(1, 4))):
        how = draw(st.sampled_from(["truncate", "flip", "splice", "header"]))
        if how == "truncate" and data:
            del data[draw(st.integers(0, len(data) - 1)) :]
        elif how == "flip" and data:
            i = draw(st.integers(0, len(data) - 1))
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif how == "splice":
            at = draw(st.integers(0, len(data)))
            data[at:at] = draw(st.binary(max_size=64))
        elif how == "header":
            data = data[:16] + draw(st.binary(max_size=256))
    return bytes(data)


def _check_image(raw: bytes) -> None:
    try:
        image = load_image(raw, source="fuzz", max_pixels=4_000_000)
    except InputError as exc:
        assert "fuzz" in str(exc), f"the error must name the input: {exc}"
        return
    assert image.rgb.dtype == np.uint8 and image.rgb.ndim == 3 and image.rgb.shape[2] == 3


@FUZZ
@given(raw=st.binary(max_size=4096))
@example(raw=b"")
@example(raw=b"\x89PNG\r\n\x1a\n")
@example(raw=b"GIF89a\xff\xff\xff\xff")  # a 65535 x 65535 header and nothing else
def test_random_bytes_are_typed_errors(raw: bytes) -> None:
    _check_image(raw)


@FUZZ
@given(raw=mangled_images())
def test_mangled_images_are_typed_errors(raw: bytes) -> None:
    _check_image(raw)


def test_the_valid_images_decode() -> None:
    for fmt, raw in VALID.items():
        assert load_image(raw, source=fmt).rgb.shape == (23, 31, 3), fmt


# --- rules YAML ------------------------------------------------------------------------------

BOMB = "\n".join(
    [
        'a: &a ["x","x","x","x","x","x","x","x","x"]',
        *[f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]" for p, n in zip("abcdef", "bcdefg", strict=True)],
        "rules: [{id: bomb, description: *g, labels: {Explicit: *g}}]",
    ]
)

scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(), st.text(max_size=20))
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
RULE_KEYS = sorted(Rule.model_fields)
RULES_YAML = dump_rules([default_rule()])


@st.composite
def rule_like_documents(draw: st.DrawFn) -> str:
    """YAML of a rules list whose rules mix real field names with junk values."""
    rules: list[Any] = []
    for _ in range(draw(st.integers(0, 3))):
        keys = draw(st.lists(st.sampled_from(RULE_KEYS) | st.text(max_size=8), max_size=6))
        rules.append({k: draw(values) for k in keys} if draw(st.booleans()) else draw(values))
    doc: Any = {"rules": rules} if draw(st.booleans()) else rules
    return yaml.safe_dump(doc, allow_unicode=True)


def _check_rules(text: str) -> None:
    try:
        rules = load_rules(text, source="fuzz.yaml")
    except ConfigError as exc:
        assert "fuzz.yaml" in str(exc), f"the error must name the input: {exc}"
        return
    assert all(isinstance(r, Rule) for r in rules)


@FUZZ
@given(raw=st.binary(max_size=2048))
@example(raw=BOMB.encode())
@example(raw=b"rules: !!python/object/apply:os.system ['true']")
@example(raw=b"- {id: a}\n- {id: a}\n")
def test_malformed_yaml_is_a_config_error(raw: bytes) -> None:
    _check_rules(raw.decode("utf-8", errors="replace"))


@FUZZ
@given(text=rule_like_documents())
def test_rule_like_documents_are_rules_or_config_errors(text: str) -> None:
    _check_rules(text)


@FUZZ
@given(cut=st.integers(0, 5000), junk=st.text(max_size=40))
def test_cut_default_rules_are_rules_or_config_errors(cut: int, junk: str) -> None:
    text = RULES_YAML
    _check_rules(text[: cut % (len(text) + 1)] + junk)


def test_the_uncut_rules_load() -> None:
    assert load_rules(RULES_YAML) == [default_rule()]


@pytest.mark.parametrize("bad", [BOMB, "rules: 5"])
def test_explicit_bad_documents(bad: str) -> None:
    with pytest.raises(ConfigError):
        load_rules(bad, source="x")
