import pytest

from sync_service.core.keywords import (
    DEFAULT_KEYWORDS,
    SHORT_MESSAGE_WORDS,
    KeywordAction,
    KeywordTable,
    classify,
    normalize,
    understand_opt_out,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("STOP", "stop"),
        ("  Stop  ", "stop"),
        ("Arrêt", "arret"),
        (" désabonner! ", "desabonner"),
        ("stop   sms", "stop sms"),
        ("stop\t\nsms", "stop sms"),
        ("STOP.", "stop"),
        ("stop !!!", "stop"),
        ("Stop?!.", "stop"),
        ("Straße", "strasse"),
        ("ＳＴＯＰ", "stop"),
        ("ÉTÉ", "ete"),
        ("!stop", "!stop"),
        ("", ""),
        ("  !!  ", ""),
    ],
)
def test_normalize(text: str, expected: str) -> None:
    assert normalize(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("stop", KeywordAction.OPT_OUT),
        ("STOP", KeywordAction.OPT_OUT),
        ("Stop.", KeywordAction.OPT_OUT),
        ("STOPALL", KeywordAction.OPT_OUT),
        ("unsubscribe", KeywordAction.OPT_OUT),
        ("Cancel", KeywordAction.OPT_OUT),
        ("end", KeywordAction.OPT_OUT),
        ("quit", KeywordAction.OPT_OUT),
        ("revoke", KeywordAction.OPT_OUT),
        ("optout", KeywordAction.OPT_OUT),
        ("Arrêt", KeywordAction.OPT_OUT),
        ("ARRET", KeywordAction.OPT_OUT),
        (" désabonner! ", KeywordAction.OPT_OUT),
        ("STOP SMS", KeywordAction.OPT_OUT),
        ("stop  sms!", KeywordAction.OPT_OUT),
        ("start", KeywordAction.OPT_IN),
        ("UNSTOP", KeywordAction.OPT_IN),
        ("yes", KeywordAction.CONFIRM),
        ("oui", KeywordAction.CONFIRM),
        ("Oui !", KeywordAction.CONFIRM),
        ("help", KeywordAction.HELP),
        ("Info", KeywordAction.HELP),
        ("aide?", KeywordAction.HELP),
        ("please stop calling", KeywordAction.OPT_OUT),  # understood since issue 13
        ("stop it", KeywordAction.OPT_OUT),  # understood since issue 13
        ("stopp", KeywordAction.REVIEW),  # a typo of STOP: a person decides
        ("sms stop", KeywordAction.OPT_OUT),  # understood since issue 13
        ("opt out", KeywordAction.OPT_OUT),  # understood since issue 13
        ("", KeywordAction.NONE),
        ("   ", KeywordAction.NONE),
    ],
)
def test_classify_default_table(text: str, expected: KeywordAction) -> None:
    assert classify(text) is expected


def test_default_table_contents() -> None:
    assert DEFAULT_KEYWORDS.opt_out == (
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
    )
    assert DEFAULT_KEYWORDS.opt_in == ("START", "UNSTOP")
    assert DEFAULT_KEYWORDS.confirm == ("YES", "OUI")
    assert DEFAULT_KEYWORDS.help == ("HELP", "INFO", "AIDE")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Résilier", KeywordAction.OPT_OUT),
        ("resilier", KeywordAction.OPT_OUT),
        ("stop", KeywordAction.OPT_OUT),  # per se (FCC 24-18): not removable
        ("Go", KeywordAction.OPT_IN),
        ("si", KeywordAction.CONFIRM),
        ("help", KeywordAction.NONE),
    ],
)
def test_classify_with_table_from_mapping(text: str, expected: KeywordAction) -> None:
    table = KeywordTable.from_mapping({"opt_out": ["Résilier", " "], "OPT_IN": ["GO"], "confirm": ["Sí"]})
    assert classify(text, table) is expected


def test_from_mapping_missing_actions_are_empty() -> None:
    table = KeywordTable.from_mapping({"help": ["Aide", "SOS"]})
    assert table == KeywordTable(help=("Aide", "SOS"))
    assert table.opt_out == ()


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({"unsubscribe": ["STOP"]}, "unknown keyword action 'unsubscribe'; expected one of: confirm, help"),
        ({"none": ["x"]}, "unknown keyword action 'none'"),
        ({"opt_out": ["STOP"], "OPT_OUT": ["END"]}, "keyword action 'opt_out' is given more than once"),
        (
            {"opt_out": ["Arrêt"], "opt_in": ["ARRET"]},
            "keyword 'arret' is listed under both 'opt_out' and 'opt_in'",
        ),
    ],
)
def test_from_mapping_rejects(mapping: dict[str, list[str]], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        KeywordTable.from_mapping(mapping)


def test_words_given_as_plain_string_are_rejected() -> None:
    with pytest.raises(TypeError, match="must be a list of strings"):
        KeywordTable.from_mapping({"opt_out": "STOP"})


# --------------------------------------------------------------------------- edges of opt-out understanding


def test_a_table_phrase_is_matched_whole_before_its_first_word() -> None:
    """A multi-word opt-out phrase of the table, then filler and a question mark: all opt-out words, so an
    opt-out (matching its first word alone would leave 'club deals' unexplained and make it a question)."""
    assert understand_opt_out("stop club deals please?", ["stop club deals"]) is KeywordAction.OPT_OUT
    assert understand_opt_out("arret total svp?", ["arret total"]) is KeywordAction.OPT_OUT


def test_a_question_is_a_question_even_with_trailing_blanks() -> None:
    # A per-se word in a short message opts out, unless the message asks something: then a person looks.
    assert understand_opt_out("is revoke a word?\n ") is KeywordAction.REVIEW
    assert understand_opt_out("is revoke a word") is KeywordAction.OPT_OUT


def test_short_means_at_most_twelve_words() -> None:
    twelve = "hey can you stop this right away I do not want it"
    assert len(twelve.split()) == SHORT_MESSAGE_WORDS == 12
    assert understand_opt_out(twelve) is KeywordAction.OPT_OUT
    assert understand_opt_out(twelve + " anymore") is KeywordAction.REVIEW


def test_an_empty_word_in_the_table_matches_nothing() -> None:
    table = KeywordTable.from_mapping({"opt_out": ["STOP", "", "  "], "help": ["HELP", " "]})
    for reply in ("", "!!!", "  ", "?"):
        assert classify(reply, table) is KeywordAction.NONE, reply
    assert classify("stop", table) is KeywordAction.OPT_OUT


def test_a_plain_string_for_the_words_says_so() -> None:
    with pytest.raises(TypeError, match=r"KeywordTable\.opt_out must be a sequence of words, not a string"):
        KeywordTable(opt_out="STOP")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("JOIN", KeywordAction.JOIN),
        (" join! ", KeywordAction.JOIN),
        ("Inscription", KeywordAction.JOIN),
        ("join the club on Sunday", KeywordAction.NONE),  # a whole keyword only
    ],
)
def test_join_subscribes_by_sms(text: str, expected: KeywordAction) -> None:
    assert classify(text) is expected


def test_join_words_come_from_odoo_too() -> None:
    table = KeywordTable.from_mapping({"join": ["Rejoindre"], "opt_out": ["STOP"]})
    assert classify("rejoindre", table) is KeywordAction.JOIN
    assert classify("JOIN", table) is KeywordAction.NONE, "Odoo's list replaces the default one"
