from odoo import fields, models


class SmsProviderAccountPrice(models.Model):
    """What a gateway account charges per SMS segment to a destination country, for the cost estimate of
    "Check recipients". Prices are not secrets: SMS Marketing users read them, managers set them."""

    _name = "sms.provider.account.price"
    _description = "SMS Gateway Price per Segment"
    _order = "account_id, country_id, id"

    account_id = fields.Many2one("sms.provider.account", string="Gateway account", required=True,
                                 ondelete="cascade", index=True)
    country_id = fields.Many2one("res.country", string="Destination country",
                                 help="Empty: every country without its own price on this account.")
    price = fields.Float(string="Price per segment", required=True, digits=(16, 5))
    currency_id = fields.Many2one("res.currency", required=True,
                                  default=lambda self: self.env.company.currency_id)

    _sql_constraints = [
        ("price_positive", "CHECK (price >= 0)", "A price per segment cannot be negative."),
        ("account_country_unique", "UNIQUE NULLS NOT DISTINCT (account_id, country_id)",
         "One price per account and destination country (and one for every other country)."),
    ]
