"""The moderation label tree: the only place label names are spelled.

Results use the three-level taxonomy of Amazon Rekognition's moderation model
version 7, so rules written for Rekognition keep working.  framewarden adds one
top-level category of its own for text found in the picture ("Offensive
Text"); it is marked as an extension so exporters can leave it out.

Classes with no moderation meaning (faces, feet, covered body parts) are
*tags*: kept for search and recommendation, never alerts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

# (level-1, {level-2: [level-3, ...]}) exactly as Rekognition model 7 spells them.
_REKOGNITION_V7: dict[str, dict[str, list[str]]] = {
    "Explicit": {
        "Explicit Nudity": [
            "Exposed Male Genitalia",
            "Exposed Female Genitalia",
            "Exposed Buttocks or Anus",
            "Exposed Female Nipple",
        ],
        "Explicit Sexual Activity": [],
        "Sex Toys": [],
    },
    "Non-Explicit Nudity of Intimate parts and Kissing": {
        "Non-Explicit Nudity": [
            "Bare Back",
            "Exposed Male Nipple",
            "Partially Exposed Buttocks",
            "Partially Exposed Female Breast",
            "Implied Nudity",
        ],
        "Obstructed Intimate Parts": [
            "Obstructed Female Nipple",
            "Obstructed Male Genitalia",
        ],
        "Kissing on the Lips": [],
    },
    "Swimwear or Underwear": {
        "Female Swimwear or Underwear": [],
        "Male Swimwear or Underwear": [],
    },
    "Violence": {
        "Weapons": [],
        "Graphic Violence": [
            "Weapon Violence",
            "Physical Violence",
            "Self-Harm",
            "Blood & Gore",
            "Explosions and Blasts",
        ],
    },
    "Visually Disturbing": {
        "Death and Emaciation": ["Emaciated Bodies", "Corpses"],
        "Crashes": ["Air Crash"],
    },
    "Drugs & Tobacco": {
        "Products": ["Pills"],
        "Drugs & Tobacco Paraphernalia & Use": ["Smoking"],
    },
    "Alcohol": {
        "Alcohol Use": ["Drinking"],
        "Alcoholic Beverages": [],
    },
    "Rude Gestures": {"Middle Finger": []},
    "Gambling": {},
    "Hate Symbols": {
        "Nazi Party": [],
        "White Supremacy": [],
        "Extremist": [],
    },
}

# framewarden extensions: text seen in the picture (OCR) judged by text/.
OFFENSIVE_TEXT = "Offensive Text"
_EXTENSIONS: dict[str, dict[str, list[str]]] = {
    OFFENSIVE_TEXT: {
        "Profanity or Insults in Text": [],
        "Hate Speech in Text": [],
        "Blocklisted Text": [],
    },
}

# Content tags: detector classes with no moderation meaning.
TAGS: tuple[str, ...] = (
    "Face Female",
    "Face Male",
    "Feet",
    "Armpits",
    "Belly",
    "Covered Female Breast",
    "Covered Female Genitalia",
    "Covered Buttocks",
    "Covered Anus",
    "Covered Feet",
    "Covered Armpits",
    "Covered Belly",
    "Text",
    "Unconfirmed Nudity",  # a NudeNet Explicit guess the whole-image classifier did not back
)

# Old (model 6) top-level names -> the model-7 names that cover them.
V6_TO_V7: dict[str, tuple[str, ...]] = {
    "Explicit Nudity": ("Explicit",),
    "Suggestive": (
        "Non-Explicit Nudity of Intimate parts and Kissing",
        "Swimwear or Underwear",
    ),
    "Violence": ("Violence",),
    "Visually Disturbing": ("Visually Disturbing",),
    "Rude Gestures": ("Rude Gestures",),
    "Drugs": ("Drugs & Tobacco",),
    "Tobacco": ("Drugs & Tobacco Paraphernalia & Use",),
    "Alcohol": ("Alcohol",),
    "Gambling": ("Gambling",),
    "Hate Symbols": ("Hate Symbols",),
}


class UnknownLabelError(KeyError):
    """A label name that is neither in the tree, a tag, nor a v6 name."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name

    def __str__(self) -> str:
        return f"unknown moderation label {self.name!r}"


@dataclass(frozen=True, slots=True)
class LabelNode:
    """One node of the tree."""

    name: str
    parent: str  # "" at the top, as Rekognition's ParentName
    level: int  # 1..3, as Rekognition's TaxonomyLevel
    extension: bool  # True for framewarden's own categories


def _build() -> dict[str, LabelNode]:
    nodes: dict[str, LabelNode] = {}
    for tree, extension in ((_REKOGNITION_V7, False), (_EXTENSIONS, True)):
        for top, seconds in tree.items():
            nodes[top] = LabelNode(top, "", 1, extension)
            for second, thirds in seconds.items():
                nodes[second] = LabelNode(second, top, 2, extension)
                for third in thirds:
                    nodes[third] = LabelNode(third, second, 3, extension)
    return nodes


NODES: dict[str, LabelNode] = _build()
TOP_LEVEL: tuple[str, ...] = tuple(n.name for n in NODES.values() if n.level == 1)
_TAGS = frozenset(TAGS)


def is_label(name: str) -> bool:
    """True for a moderation label of the tree (any level)."""
    return name in NODES


def is_tag(name: str) -> bool:
    return name in _TAGS


def node(name: str) -> LabelNode:
    """The tree node of ``name``; raises :class:`UnknownLabelError`."""
    try:
        return NODES[name]
    except KeyError:
        raise UnknownLabelError(name) from None


def ancestors(name: str) -> tuple[str, ...]:
    """Parent first, top level last; empty for a top-level name."""
    chain: list[str] = []
    parent = node(name).parent
    while parent:
        chain.append(parent)
        parent = NODES[parent].parent
    return tuple(chain)


def top_level(name: str) -> str:
    chain = ancestors(name)
    return chain[-1] if chain else node(name).name


def is_within(name: str, root: str) -> bool:
    """True when ``name`` is ``root`` or one of its descendants."""
    return name == root or root in ancestors(name)


@cache
def subtree(root: str) -> frozenset[str]:
    """``root`` and every descendant of it."""
    node(root)
    return frozenset(n for n in NODES if is_within(n, root))


def children(name: str) -> tuple[str, ...]:
    node(name)
    return tuple(n.name for n in NODES.values() if n.parent == name)


def translate(name: str, *, from_version: int = 7) -> tuple[str, ...]:
    """Model-7 names for a name found in a rule.

    ``from_version=6`` reads ``name`` as an old (model 6) name first:
    "Explicit Nudity" then means the whole old category (now "Explicit"),
    not the narrower v7 level-2 label of the same spelling.  With the
    default (7) a current name is returned as is and an old top-level name
    that v7 no longer has ("Suggestive", "Drugs", "Tobacco") is translated.
    Anything else raises :class:`UnknownLabelError`.
    """
    if from_version == 6 and name in V6_TO_V7:
        return V6_TO_V7[name]
    if name in NODES or name in _TAGS:
        return (name,)
    if name in V6_TO_V7:
        return V6_TO_V7[name]
    raise UnknownLabelError(name)


def is_v6_name(name: str) -> bool:
    return name not in NODES and name in V6_TO_V7


def rekognition_labels() -> Iterable[LabelNode]:
    """The nodes that Rekognition itself knows (no extensions)."""
    return (n for n in NODES.values() if not n.extension)
