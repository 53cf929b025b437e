"""The label tree against Rekognition model 7, and its lookups."""

from __future__ import annotations

import pytest

from framewarden import taxonomy as tx

# (level-1, level-2, level-3 or "") as Rekognition's moderation-api page lists them.
REKOGNITION_V7_ROWS = [
    ("Explicit", "Explicit Nudity", "Exposed Male Genitalia"),
    ("Explicit", "Explicit Nudity", "Exposed Female Genitalia"),
    ("Explicit", "Explicit Nudity", "Exposed Buttocks or Anus"),
    ("Explicit", "Explicit Nudity", "Exposed Female Nipple"),
    ("Explicit", "Explicit Sexual Activity", ""),
    ("Explicit", "Sex Toys", ""),
    ("Non-Explicit Nudity of Intimate parts and Kissing", "Non-Explicit Nudity", "Bare Back"),
    ("Non-Explicit Nudity of Intimate parts and Kissing", "Non-Explicit Nudity", "Exposed Male Nipple"),
    (
        "Non-Explicit Nudity of Intimate parts and Kissing",
        "Non-Explicit Nudity",
        "Partially Exposed Buttocks",
    ),
    (
        "Non-Explicit Nudity of Intimate parts and Kissing",
        "Non-Explicit Nudity",
        "Partially Exposed Female Breast",
    ),
    ("Non-Explicit Nudity of Intimate parts and Kissing", "Non-Explicit Nudity", "Implied Nudity"),
    (
        "Non-Explicit Nudity of Intimate parts and Kissing",
        "Obstructed Intimate Parts",
        "Obstructed Female Nipple",
    ),
    (
        "Non-Explicit Nudity of Intimate parts and Kissing",
        "Obstructed Intimate Parts",
        "Obstructed Male Genitalia",
    ),
    ("Non-Explicit Nudity of Intimate parts and Kissing", "Kissing on the Lips", ""),
    ("Swimwear or Underwear", "Female Swimwear or Underwear", ""),
    ("Swimwear or Underwear", "Male Swimwear or Underwear", ""),
    ("Violence", "Weapons", ""),
    ("Violence", "Graphic Violence", "Weapon Violence"),
    ("Violence", "Graphic Violence", "Physical Violence"),
    ("Violence", "Graphic Violence", "Self-Harm"),
    ("Violence", "Graphic Violence", "Blood & Gore"),
    ("Violence", "Graphic Violence", "Explosions and Blasts"),
    ("Visually Disturbing", "Death and Emaciation", "Emaciated Bodies"),
    ("Visually Disturbing", "Death and Emaciation", "Corpses"),
    ("Visually Disturbing", "Crashes", "Air Crash"),
    ("Drugs & Tobacco", "Products", "Pills"),
    ("Drugs & Tobacco", "Drugs & Tobacco Paraphernalia & Use", "Smoking"),
    ("Alcohol", "Alcohol Use", "Drinking"),
    ("Alcohol", "Alcoholic Beverages", ""),
    ("Rude Gestures", "Middle Finger", ""),
    ("Gambling", "", ""),
    ("Hate Symbols", "Nazi Party", ""),
    ("Hate Symbols", "White Supremacy", ""),
    ("Hate Symbols", "Extremist", ""),
]


def _expected_nodes() -> dict[str, tuple[str, int]]:
    expected: dict[str, tuple[str, int]] = {}
    for l1, l2, l3 in REKOGNITION_V7_ROWS:
        expected[l1] = ("", 1)
        if l2:
            expected[l2] = (l1, 2)
        if l3:
            expected[l3] = (l2, 3)
    return expected


def test_rekognition_tree_is_exact() -> None:
    ours = {n.name: (n.parent, n.level) for n in tx.rekognition_labels()}
    assert ours == _expected_nodes()


def test_top_level_order_and_extension_marked() -> None:
    assert tx.TOP_LEVEL[:10] == (
        "Explicit",
        "Non-Explicit Nudity of Intimate parts and Kissing",
        "Swimwear or Underwear",
        "Violence",
        "Visually Disturbing",
        "Drugs & Tobacco",
        "Alcohol",
        "Rude Gestures",
        "Gambling",
        "Hate Symbols",
    )
    extensions = [n for n in tx.NODES.values() if n.extension]
    assert extensions, "the text category must exist"
    assert all(tx.top_level(n.name) == tx.OFFENSIVE_TEXT for n in extensions)


@pytest.mark.parametrize(
    ("name", "chain"),
    [
        ("Explicit", ()),
        ("Explicit Nudity", ("Explicit",)),
        ("Exposed Female Nipple", ("Explicit Nudity", "Explicit")),
        ("Smoking", ("Drugs & Tobacco Paraphernalia & Use", "Drugs & Tobacco")),
        ("Gambling", ()),
    ],
)
def test_ancestors(name: str, chain: tuple[str, ...]) -> None:
    assert tx.ancestors(name) == chain


def test_subtree_and_membership() -> None:
    sub = tx.subtree("Violence")
    assert {"Violence", "Weapons", "Graphic Violence", "Self-Harm"} <= sub
    assert "Explicit" not in sub
    assert tx.is_within("Blood & Gore", "Violence")
    assert tx.is_within("Violence", "Violence")
    assert not tx.is_within("Violence", "Blood & Gore")
    assert tx.children("Crashes") == ("Air Crash",)


def test_tags_are_not_labels() -> None:
    for tag in tx.TAGS:
        assert tx.is_tag(tag)
        assert not tx.is_label(tag)


@pytest.mark.parametrize(
    ("name", "version", "expected"),
    [
        ("Suggestive", 7, ("Non-Explicit Nudity of Intimate parts and Kissing", "Swimwear or Underwear")),
        ("Drugs", 7, ("Drugs & Tobacco",)),
        ("Tobacco", 7, ("Drugs & Tobacco Paraphernalia & Use",)),
        # Same spelling in both versions: v7 reads the narrower level-2 label,
        # a v6 rule means the whole old category.
        ("Explicit Nudity", 7, ("Explicit Nudity",)),
        ("Explicit Nudity", 6, ("Explicit",)),
        ("Violence", 6, ("Violence",)),
        ("Hate Symbols", 6, ("Hate Symbols",)),
        ("Face Female", 7, ("Face Female",)),
    ],
)
def test_translate(name: str, version: int, expected: tuple[str, ...]) -> None:
    assert tx.translate(name, from_version=version) == expected


def test_every_v6_top_level_name_translates_to_real_nodes() -> None:
    assert set(tx.V6_TO_V7) == {
        "Explicit Nudity",
        "Suggestive",
        "Violence",
        "Visually Disturbing",
        "Rude Gestures",
        "Drugs",
        "Tobacco",
        "Alcohol",
        "Gambling",
        "Hate Symbols",
    }
    for targets in tx.V6_TO_V7.values():
        assert all(tx.is_label(t) for t in targets)


def test_unknown_name_is_a_clear_error() -> None:
    with pytest.raises(tx.UnknownLabelError, match="unknown moderation label 'Nudez'"):
        tx.translate("Nudez")
    with pytest.raises(tx.UnknownLabelError):
        tx.ancestors("nope")
