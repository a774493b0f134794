from odoo import _, fields, models
from odoo.exceptions import AccessError, UserError

INBOUND_ACTIONS = [
    ("opt_out", "Opt-out (STOP)"),
    ("opt_in", "Re-subscribe (START)"),
    ("confirm", "Confirmation (YES)"),
    ("help", "Help (HELP)"),
    ("join", "Subscribe (JOIN)"),
    ("review", "Possible opt-out"),
    ("none", "Other reply"),
]
# Actions the sync service reports but that no keyword can be set to.
NON_KEYWORD_ACTIONS = ("review", "none")
REVIEW_STATES = [
    ("to_review", "To review"),
    ("opted_out", "Opted out"),
    ("not_optout", "Not an opt-out"),
]


class SmsInboundMessage(models.Model):
    """Every inbound SMS the sync service handed to Odoo, once (unique provider message id). A reply that might
    be an opt-out but is not clear ("review") waits here for an SMS manager: opt out, or not an opt-out."""

    _name = "sms.inbound.message"
    _description = "Inbound SMS"
    _order = "id desc"
    _rec_name = "inbound_message_id"

    inbound_message_id = fields.Char(string="Provider message id", required=True, readonly=True, index=True)
    provider = fields.Char(readonly=True)
    number = fields.Char(string="From (E.164)", readonly=True, index=True)
    body = fields.Text(readonly=True)
    action = fields.Selection(INBOUND_ACTIONS, required=True, readonly=True)
    result = fields.Char(readonly=True, help="What Odoo did with it.")
    partner_ids = fields.Many2many("res.partner", string="Contacts", readonly=True)
    reply = fields.Text(string="Reply sent", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True, default=lambda self: self.env.company)
    review_state = fields.Selection(
        REVIEW_STATES, string="Review", readonly=True, index="btree_not_null", copy=False,
        help="Replies that might be opt-outs wait for a decision of an SMS manager.",
    )
    reviewed_by_id = fields.Many2one("res.users", string="Reviewed by", readonly=True, copy=False)
    reviewed_date = fields.Datetime(string="Reviewed on", readonly=True, copy=False)
    to_number = fields.Char(string="To (our number)", readonly=True)
    conversation_id = fields.Many2one("discuss.channel", string="Conversation", readonly=True, ondelete="set null",
                                      index="btree_not_null")

    _sql_constraints = [
        ("inbound_message_id_unique", "unique (inbound_message_id)", "This inbound message was already applied."),
    ]

    # ------------------------------------------------------------------ review
    def _check_reviewer(self):
        if not (self.env.su or self.env.user.has_group("sms_marketing_addon.group_sms_marketing_manager")):
            raise AccessError(_("Only SMS marketing managers can decide whether a reply is an opt-out."))
        done = self.filtered(lambda m: m.review_state != "to_review")
        if done:
            raise UserError(_(
                "These replies are not waiting for a review (already decided, or not possible opt-outs): %s",
                ", ".join(done.mapped("number")),
            ))

    def action_review_opt_out(self):
        """The reply is an opt-out: the number is opted out (consent log with the acting user) and gets the STOP
        confirmation in the contact's language."""
        self._check_reviewer()
        Api = self.env["sms.marketing.api"].sudo()
        Partner = self.env["res.partner"].sudo().with_context(active_test=False)
        for message in self:
            proof = {
                "inbound_message_id": message.inbound_message_id,
                "note": _("Reply reviewed as an opt-out by %(user)s: %(body)s",
                          user=self.env.user.name, body=message.body or ""),
            }
            partners = Partner.search([("sms_number", "=", message.number)])
            if partners:
                # sudo keeps the acting user: the consent log records who decided.
                affected = partners._sms_opt_out("keyword", **proof)
            else:
                affected = Partner.browse()
                self.env["sms.consent.log"].sudo()._log(affected, "opt_out", "keyword", number=message.number,
                                                        **proof)
                self.env["phone.blacklist"].sudo().with_context(sms_marketing_no_sync=True)._add(
                    [message.number], message=_("SMS opt-out (reply reviewed)"))
            reply = Api._sms_keyword_reply("opt_out", message.number, affected or partners)
            message.sudo().write({
                "review_state": "opted_out", "reviewed_by_id": self.env.uid, "reviewed_date": fields.Datetime.now(),
                "result": "opted_out", "reply": reply or False, "partner_ids": [(6, 0, (affected or partners).ids)],
            })
        return True

    def action_review_not_optout(self):
        """The reply is no opt-out: it leaves the review list, with who decided and when."""
        self._check_reviewer()
        self.sudo().write({"review_state": "not_optout", "reviewed_by_id": self.env.uid,
                           "reviewed_date": fields.Datetime.now(), "result": "received"})
        return True
