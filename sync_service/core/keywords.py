"""Classification of inbound SMS keywords (STOP, START, YES, HELP ...).

Only a whole message is a keyword: "stop" opts out, "please stop calling" does not.
Comparison happens on a normalized form (see :func:`normalize`), so "Arrêt", " ARRET! "
and "arret" are the same word.
"""

import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Self


class KeywordAction(StrEnum):
    """What an inbound message asks for."""

    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    CONFIRM = "confirm"
    HELP = "help"
    NONE = "none"


# Checked in this order; a word may belong to one action only.
_ACTION_FIELDS: tuple[tuple[KeywordAction, str], ...] = (
    (KeywordAction.OPT_OUT, "opt_out"),
    (KeywordAction.OPT_IN, "opt_in"),
    (KeywordAction.CONFIRM, "confirm"),
    (KeywordAction.HELP, "help"),
)


def normalize(text: str) -> str:
    """Canonical form of a message for keyword comparison.

    Strips and casefolds, removes accents (NFKD, combining marks dropped), collapses inner
    whitespace to single spaces and removes trailing punctuation such as ".", "!" or "?".
    """
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    without_marks = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    collapsed = " ".join(without_marks.split())
    end = len(collapsed)
    while end > 0 and (
        unicodedata.category(collapsed[end - 1]).startswith("P") or collapsed[end - 1].isspace()
    ):
        end -= 1
    return collapsed[:end]


def _normalized_words(words: Iterable[str]) -> tuple[str, ...]:
    result: list[str] = []
    for word in words:
        norm = normalize(word)
        if norm and norm not in result:
            result.append(norm)
    return tuple(result)


@dataclass(frozen=True)
class KeywordTable:
    """Keyword lists per action, as edited in Odoo.

    The words are kept as given; blank entries are ignored. A word that normalizes to the
    same form under two different actions is ambiguous and rejected with ``ValueError``.
    """

    opt_out: tuple[str, ...] = ()
    opt_in: tuple[str, ...] = ()
    confirm: tuple[str, ...] = ()
    help: tuple[str, ...] = ()
    _index: Mapping[str, KeywordAction] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index: dict[str, KeywordAction] = {}
        for action, name in _ACTION_FIELDS:
            words = getattr(self, name)
            if isinstance(words, str):
                raise TypeError(f"KeywordTable.{name} must be a sequence of words, not a string")
            for word in _normalized_words(words):
                previous = index.get(word)
                if previous is not None and previous is not action:
                    raise ValueError(
                        f"keyword {word!r} is listed under both {previous.value!r} and {action.value!r}"
                    )
                index[word] = action
        object.__setattr__(self, "_index", index)

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Iterable[str]]) -> Self:
        """Build a table from ``{"opt_out": [...], "opt_in": [...], ...}``.

        Keys are action names ("opt_out", "opt_in", "confirm", "help", any case); a missing
        key gives an empty list for that action. Any other key raises ``ValueError``.
        """
        valid = {name for _, name in _ACTION_FIELDS}
        kwargs: dict[str, tuple[str, ...]] = {}
        for key, words in mapping.items():
            name = key.strip().lower()
            if name not in valid:
                raise ValueError(
                    f"unknown keyword action {key!r}; expected one of: {', '.join(sorted(valid))}"
                )
            if name in kwargs:
                raise ValueError(f"keyword action {name!r} is given more than once")
            if isinstance(words, str):
                raise TypeError(f"words for {key!r} must be a list of strings, not a string")
            kwargs[name] = tuple(words)
        return cls(**kwargs)

    def action_for(self, normalized_text: str) -> KeywordAction:
        """Action of an already normalized message, ``NONE`` when it is no keyword."""
        return self._index.get(normalized_text, KeywordAction.NONE)


DEFAULT_KEYWORDS = KeywordTable(
    opt_out=(
        "STOP",
        "STOPALL",
        "UNSUBSCRIBE",
        "CANCEL",
        "END",
        "QUIT",
        "REVOKE",
        "OPTOUT",
        "ARRET",
        "DESABONNER",
        "STOP SMS",
    ),
    opt_in=("START", "UNSTOP"),
    confirm=("YES", "OUI"),
    help=("HELP", "INFO", "AIDE"),
)


def classify(text: str, table: KeywordTable = DEFAULT_KEYWORDS) -> KeywordAction:
    """Action asked by a whole inbound message."""
    return table.action_for(normalize(text))
