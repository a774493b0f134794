import unicodedata

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from .sms_inbound_message import INBOUND_ACTIONS, NON_KEYWORD_ACTIONS


def normalize_keyword(text):
    """Case, accents and surrounding spaces ignored: 'Arrêt ' -> 'ARRET'."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).split()).upper()


class SmsKeyword(models.Model):
    """Inbound keywords and what they do; the sync service reads them (`sms.marketing.api.get_keywords`)."""

    _name = "sms.keyword"
    _description = "SMS Inbound Keyword"
    _order = "action, word"

    word = fields.Char(
        required=True,
        help="Matched against the whole message, case and accents ignored. Opt-out words also count anywhere in "
        "a short reply; the per-se words (STOP, QUIT, END, REVOKE, OPT OUT, CANCEL, UNSUBSCRIBE, ARRET...) "
        "always do, even when not listed here.",
    )
    action = fields.Selection([a for a in INBOUND_ACTIONS if a[0] not in NON_KEYWORD_ACTIONS], required=True)
    active = fields.Boolean(default=True)

    _sql_constraints = [("word_unique", "unique (word)", "This keyword already exists.")]

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if vals.get("word"):
                vals["word"] = normalize_keyword(vals["word"])
        return super().create(vals_list)

    def write(self, vals):
        if vals.get("word"):
            vals = dict(vals, word=normalize_keyword(vals["word"]))
        return super().write(vals)

    @api.constrains("word")
    def _check_word(self):
        for keyword in self:
            if not keyword.word:
                raise ValidationError(_("A keyword cannot be empty."))

    @api.model
    def _as_mapping(self):
        mapping = {action: [] for action, _label in INBOUND_ACTIONS if action not in NON_KEYWORD_ACTIONS}
        for keyword in self.search([]):
            mapping[keyword.action].append(keyword.word)
        return mapping
