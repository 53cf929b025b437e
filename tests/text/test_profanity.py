"""The shipped profanity model: loaded once, lazily, safely from many threads."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from framewarden.text import profanity


@pytest.mark.parametrize(
    ("text", "profane"),
    [
        ("have a nice day", False),
        ("the weather is lovely", False),
        ("you stupid idiot", True),
        ("shit", True),
    ],
)
def test_probabilities(text: str, profane: bool) -> None:
    (p,) = profanity.profanity_probabilities([text])
    assert 0.0 <= p <= 1.0
    assert (p >= 0.8) is profane


def test_empty_batch_loads_nothing() -> None:
    assert profanity.profanity_probabilities([]) == []


def test_concurrent_first_use_loads_one_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(profanity, "_predict", None)
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda t: profanity.profanity_probabilities([t])[0], ["fuck you"] * 16))
    assert len(set(results)) == 1 and results[0] > 0.9
    assert profanity._predict is not None


def test_model_version_names_the_package() -> None:
    assert profanity.model_version()[0].isdigit()
