"""Understanding inbound SMS: opt-outs (STOP...), re-subscriptions, confirmations, help requests.

Keywords edited in Odoo (:class:`KeywordTable`) match a whole message, compared on a normalized form
(see :func:`normalize`), so "Arrêt", " ARRET! " and "arret" are the same word.

Opt-outs are understood beyond whole keywords (:func:`classify`): since 11 April 2025 the FCC (24-18)
treats "stop, quit, end, revoke, opt out, cancel, unsubscribe" as revocation per se and any wording a
reasonable person would read as "stop" as revocation too; the CNIL asks for a simple opt-out. So:

* a message made of opt-out words and filler ("stop all", "STOP please", "stop!!", "unsubscribe me",
  "arrêt SMS svp") opts out;
* an opt-out request in plain English or French ("please stop texting me", "arrêtez les SMS",
  "je ne veux plus recevoir vos messages") opts out;
* a strong opt-out word (stop, unsubscribe, opt out, revoke, arrêt, désinscrire...) anywhere in a short
  message opts out, unless it is used in another sense ("don't stop the deals", "stop by the shop",
  "non-stop deals", "arrêt de bus");
* what might be an opt-out but is not clear (a weak per-se word such as "cancel", "end" or "quit" in a
  sentence, a strong word in a long message or a question, "spam", "wrong number") is ``REVIEW``: a person
  decides in Odoo;
* anything else is ``NONE``.

The per-se words are built in (they are the law); the opt-out words of the table are added to them.
"""

import re
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
    JOIN = "join"  # subscribe by SMS ("text JOIN to ..."): Odoo starts the double opt-in
    REVIEW = "review"  # might be an opt-out, not clear: a person decides
    NONE = "none"


# Checked in this order; a word may belong to one action only.
_ACTION_FIELDS: tuple[tuple[KeywordAction, str], ...] = (
    (KeywordAction.OPT_OUT, "opt_out"),
    (KeywordAction.OPT_IN, "opt_in"),
    (KeywordAction.CONFIRM, "confirm"),
    (KeywordAction.HELP, "help"),
    (KeywordAction.JOIN, "join"),
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
    join: tuple[str, ...] = ()
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
    join=("JOIN", "INSCRIPTION"),
)


# ---------------------------------------------------------------------------- opt-out understanding

# Revocation per se (FCC 24-18) and their French equivalents, as normalized token sequences. Strong words
# have hardly any other sense in a reply to a marketing SMS; weak ones often do ("cancel my order").
STRONG_OPT_OUT_WORDS: tuple[str, ...] = (
    "stop", "stopall", "stop all", "unsubscribe", "unsub", "revoke", "optout", "opt out", "opt me out",
    "arret", "arrete", "arretez", "stop sms", "desabonner", "desabonnez", "desabonne", "desabonnement",
    "desinscrire", "desinscrivez", "desinscris", "desinscrit", "desinscription",
)
WEAK_OPT_OUT_WORDS: tuple[str, ...] = ("end", "quit", "cancel", "arreter", "fin")
# Words that carry no meaning of their own around an opt-out word ("STOP please", "unsubscribe me").
FILLER_WORDS = frozenset({
    "please", "pls", "plz", "pleeease", "now", "all", "me", "my", "number", "this", "these", "that",
    "them", "it", "you", "your", "u", "ok", "okay", "thanks", "thank", "ty", "thx", "sms", "sms's", "text",
    "texts", "txt", "txts", "message", "messages", "msg", "msgs", "textos", "texto", "spam", "again",
    "already", "just", "immediately", "asap", "right", "away", "sorry", "hi", "hello", "hey", "yes", "oh",
    "the", "of", "from", "list", "mailing", "to", "for", "and", "promo", "promos", "ads", "merci", "svp",
    "stp", "s", "il", "vous", "te", "plait", "tout", "tous", "toutes", "moi", "mon", "numero", "les",
    "des", "de", "ces", "vos", "cette", "liste", "pub", "pubs", "oui", "bonjour", "salut", "maintenant",
    "immediatement", "desole",
})
# Max words of a "short" message: a strong opt-out word in it opts out.
SHORT_MESSAGE_WORDS = 12

# Other senses of the opt-out words (the matched span no longer counts as an opt-out word).
_NEGATIVE_PATTERNS: tuple[str, ...] = (
    r"\b(?:don t|dont|do not|never|can t|cant|cannot|couldn t|won t|wont|will not|didn t|not|wouldn t|"
    r"shouldn t|shall not|doesn t|please don t|pls don t) (?:ever )?(?:\w+ )?(?:stop|end|quit|cancel)\b",
    r"\bnon ?stop\b", r"\bstop (?:by|in|at|over|and see|to see|to say)\b",
    r"\b(?:bus|pit|one|last|next|first|truck|tram|train|full) stop\b",
    r"\b(?:the|at the|in the|by the|until the|till the) end\b", r"\bend (?:of|up|date|time)\b",
    r"\b(?:sale|offer|promo|promotion|deal|discount|code|coupon|soldes|event|season) (?:\w+ )?end\b",
    r"\bquit (?:smoking|drinking|my job|job|work)\b",
    r"\bn (?:\w+ )?(?:arret\w*|stop\w*) (?:\w+ )?pas\b",
    r"\bne (?:\w+ )?(?:arret\w*|stop\w*) (?:\w+ )?(?:pas|jamais)\b",
    r"\bsans arret\b", r"\barret (?:de bus|du bus|de tram|du tram|maladie|de travail|de metro)\b",
    r"\b(?:pas|jamais) (?:d )?arret\w*\b", r"\ben fin\b", r"\bfin (?:de|du|des) \w+\b",
)
# Plain-language opt-out requests, in English and French.
_OPT_OUT_PHRASES: tuple[str, ...] = (
    r"\bstop (?:\w+ )?(?:texting|messaging|sending|contacting|spamming|bothering|calling|harassing|"
    r"emailing)\b",
    r"\bstop (?:\w+ )?(?:the |your |these |those |all |this |ur )?"
    r"(?:texts|messages|sms|spam|notifications|promos)\b",
    r"\b(?:unsubscribe|remove|delete|take) me\b", r"\bremove (?:my|this) (?:number|phone)\b",
    r"\b(?:take|get) (?:me|my number) off\b", r"\bopt (?:me )?out\b",
    r"\bno (?:more|further) (?:texts|messages|sms|text|message|promos|marketing)\b",
    r"\b(?:don t|dont|do not|never) (?:\w+ )?(?:text|message|contact|sms|spam|bother) me\b",
    r"\b(?:don t|dont|do not|never) send me (?:any |these |those |your )?(?:more )?"
    r"(?:texts|messages|sms|promos|offers|these|those|this)\b",
    r"\b(?:don t|dont|do not) (?:want|wish) (?:to (?:receive|get) )?(?:any )?(?:more |further )?"
    r"(?:your |these |those |the |any )?(?:texts|messages|sms|text messages|promos|marketing)\b",
    r"\bleave me alone\b", r"\bunsubscribe\b", r"\bi want out\b",
    r"\b(?:not|no longer) interested\b",
    r"\barret\w* (?:de m envoyer|de m ecrire|de me contacter|de me spammer|vos|les|ces|tes|de m harceler)\b",
    r"\b(?:je )?ne (?:veux|souhaite|desire) plus (?:\w+ ){0,3}(?:sms|messages|textos|pub|offres|rien)\b",
    r"\bne (?:plus|jamais) (?:me |m )?(?:recevoir|contacter|envoyer|ecrire)\b",
    r"\bplus (?:de|d) (?:vos |ces |tes |tous ces )?(?:sms|messages|textos|pub|offres)\b",
    r"\b(?:retirez|retire|supprimez|supprime|enlevez|effacez) (?:moi|mon numero)\b",
    r"\bdes(?:inscri|abonn)\w*\b", r"\blaissez moi tranquille\b", r"\bfoutez moi la paix\b",
    r"\bstop (?:a |aux )?(?:la |les )?(?:pub|pubs|sms|messages|textos|offres)\b",
)
# Signs that a message might be an opt-out: a person should look at it.
_REVIEW_PATTERNS: tuple[str, ...] = (
    r"\bspam\w*\b", r"\bwrong number\b", r"\bwho is this\b", r"\bhow did you get my number\b",
    r"\bremove\b", r"\bharass\w*\b", r"\breport(?:ed|ing)? (?:you|this)\b", r"\bblock(?:ed|ing)?\b",
    r"\bno more\b", r"\benough\b", r"\bnever signed up\b", r"\bdidn t sign up\b",
    r"\bharcel\w*\b", r"\bmauvais numero\b", r"\bqui etes vous\b", r"\barnaque\b", r"\bplus jamais\b",
    r"\bsupprim\w*\b", r"\bretir\w*\b", r"\bca suffit\b", r"\bmarre\b", r"\bpas inscrit\w*\b",
    r"\bstops?\b", r"\bstopp\b", r"\bunsubscrib\w*\b", r"\bfini\b",
)
_NEGATIVE_RE = re.compile("|".join(f"(?:{p})" for p in _NEGATIVE_PATTERNS))
_OPT_OUT_RE = re.compile("|".join(f"(?:{p})" for p in _OPT_OUT_PHRASES))
_REVIEW_RE = re.compile("|".join(f"(?:{p})" for p in _REVIEW_PATTERNS))
_GAP = "_"  # replaces a span that no longer counts (a negated opt-out word)


def tokens(text: str) -> list[str]:
    """Words of a message: casefolded, accents removed, anything but letters and digits a separator
    ("n'arrêtez" -> ["n", "arretez"], "STOP!!🙏" -> ["stop"])."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return "".join(ch if ch.isalnum() else " " for ch in plain).split()


def _contains(words: list[str], phrase: tuple[str, ...]) -> bool:
    size = len(phrase)
    return any(tuple(words[i:i + size]) == phrase for i in range(len(words) - size + 1))


def _phrases(words: Iterable[str]) -> tuple[tuple[str, ...], ...]:
    return tuple(sorted({tuple(tokens(w)) for w in words if tokens(w)}, key=len, reverse=True))


_STRONG = _phrases(STRONG_OPT_OUT_WORDS)
_WEAK = _phrases(WEAK_OPT_OUT_WORDS)


def _only_opt_out_words(words: list[str], opt_out: tuple[tuple[str, ...], ...]) -> bool:
    """Whether ``words`` are opt-out words and filler only, with at least one opt-out word."""
    index, found = 0, False
    while index < len(words):
        match = next((p for p in opt_out if tuple(words[index:index + len(p)]) == p), None)
        if match:
            index, found = index + len(match), True
        elif words[index] in FILLER_WORDS or words[index] == _GAP:
            index += 1
        else:
            return False
    return found


def understand_opt_out(text: str, extra_opt_out_words: Iterable[str] = ()) -> KeywordAction:
    """``OPT_OUT``, ``REVIEW`` or ``NONE`` for a message that is no whole keyword (see the module's rules).

    ``extra_opt_out_words`` (the table's opt-out words) count as strong opt-out words.
    """
    words = tokens(text)
    if not words:
        return KeywordAction.NONE
    joined = " ".join(words)
    remaining_text = _NEGATIVE_RE.sub(_GAP, joined)
    remaining = remaining_text.split()
    extra = set(_phrases(extra_opt_out_words)) - set(_WEAK)  # "CANCEL" in the table stays a weak word
    strong = tuple(sorted(set(_STRONG) | extra, key=len, reverse=True))
    if _only_opt_out_words(remaining, strong + _WEAK):
        return KeywordAction.OPT_OUT
    if _OPT_OUT_RE.search(remaining_text):
        return KeywordAction.OPT_OUT
    question = text.rstrip().endswith("?")
    if any(_contains(remaining, phrase) for phrase in strong):
        short = len(words) <= SHORT_MESSAGE_WORDS
        return KeywordAction.OPT_OUT if short and not question else KeywordAction.REVIEW
    if any(_contains(remaining, phrase) for phrase in _WEAK):
        return KeywordAction.REVIEW
    if _REVIEW_RE.search(remaining_text):
        return KeywordAction.REVIEW
    return KeywordAction.NONE


def classify(text: str, table: KeywordTable = DEFAULT_KEYWORDS) -> KeywordAction:
    """Action asked by an inbound message: a whole keyword of the table first, else an opt-out understood
    in the message (``OPT_OUT``), a possible one (``REVIEW``), or ``NONE``."""
    action = table.action_for(normalize(text))
    if action is not KeywordAction.NONE:
        return action
    return understand_opt_out(text, table.opt_out)
