from datetime import timedelta

from markupsafe import Markup

from odoo import Command, _, api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import html2plaintext

# How far back an outbound SMS counts as the one a reply answers.
ANSWERED_WINDOW = timedelta(days=30)


class DiscussChannel(models.Model):
    """Two-way SMS conversations live in Discuss as their own kind of channel ("SMS"), the way Live Chat
    conversations do: one per customer number and sending number. Members are the assignee (the contact's
    salesperson, else the company's SMS team, else the SMS managers): they get Discuss's unread counters and
    notifications. What a member writes in it (a comment) leaves as a transactional SMS through the gateway, its
    delivery state shown on the message (Odoo's SMS notification)."""

    _inherit = "discuss.channel"

    channel_type = fields.Selection(selection_add=[("sms", "SMS conversation")], ondelete={"sms": "cascade"})
    sms_number = fields.Char(string="Customer number", readonly=True, index="btree_not_null",
                             help="The customer's number (E.164): replies go to it.")
    sms_sender = fields.Char(string="Sending number", readonly=True,
                             help="Our number the customer wrote to (empty when the provider did not say).")
    sms_partner_id = fields.Many2one("res.partner", string="Contact", index="btree_not_null", ondelete="set null",
                                     help="Empty for a number no contact has: create or link one.")
    sms_answered_id = fields.Many2one("sms.provider.message", string="Last SMS answered", readonly=True,
                                      ondelete="set null")
    sms_company_id = fields.Many2one("res.company", string="Company", readonly=True, index="btree_not_null",
                                     help="The company whose SMS the customer answered: only its users see it.")
    sms_opted_out = fields.Boolean(string="Opted out", compute="_compute_sms_opted_out",
                                   help="The number is in the opt-out register: no reply can be sent.")

    _sql_constraints = [
        ("sms_conversation_number", "CHECK (channel_type != 'sms' OR sms_number IS NOT NULL)",
         "An SMS conversation needs the customer's number."),
    ]

    @api.model_create_multi
    def create(self, vals_list):
        if not self.env.su and any(vals.get("channel_type") == "sms" or vals.get("sms_number") for vals in vals_list):
            raise AccessError(_("SMS conversations are opened by inbound SMS only."))
        return super().create(vals_list)

    def write(self, vals):
        """Where replies go (number, sender, kind) is set by Odoo only; SMS users may link a contact."""
        if not self.env.su:
            if {"sms_number", "sms_sender", "sms_answered_id", "sms_company_id"} & set(vals) or vals.get("channel_type") == "sms":
                raise AccessError(_("The number of an SMS conversation cannot be changed."))
            if "sms_partner_id" in vals and not self.env.user.has_group(
                    "sms_marketing_addon.group_sms_marketing_user"):
                raise AccessError(_("Only SMS Marketing users can link a contact to an SMS conversation."))
        return super().write(vals)

    @api.depends("sms_number")
    def _compute_sms_opted_out(self):
        numbers = [n for n in self.mapped("sms_number") if n]
        listed = set(self.env["phone.blacklist"].sudo().search([("number", "in", numbers)]).mapped("number")) \
            if numbers else set()
        for channel in self:
            channel.sms_opted_out = channel.sms_number in listed

    def _to_store(self, store):
        """Discuss knows an SMS conversation's number and whether it opted out (the composer says so)."""
        super()._to_store(store)
        for channel in self.filtered(lambda c: c.channel_type == "sms"):
            store.add(channel, {"sms_number": channel.sms_number, "sms_opted_out": channel.sms_opted_out})

    def _sms_notify_opt_out_state(self):
        """Tell the open Discuss clients the conversation's opt-out state changed."""
        for channel in self.filtered(lambda c: c.channel_type == "sms"):
            channel._bus_send_store(channel, {"sms_opted_out": channel.sms_opted_out})

    # ------------------------------------------------------------------ conversations
    @api.model
    def _sms_assignees(self, partner, company):
        """Users to notify of a reply: the contact's salesperson, else the company's SMS team, else the SMS
        marketing managers (never the service user)."""
        users = partner.user_id.filtered("active")
        if not users:
            users = company.sms_team_user_ids.filtered("active")
        if not users:
            users = self.env.ref("sms_marketing_addon.group_sms_marketing_manager").sudo().users
        service = self.env.ref("sms_marketing_addon.group_sms_marketing_service").sudo().users
        return (users - service).filtered(lambda u: not u.share)

    @api.model
    def _sms_readers_context(self, number, sender, partner, company):
        """Language and time zone of the people who read a conversation (its members, else those it would be
        given to): the thread's system lines are written once, for them, not in the sync service user's."""
        channel = self.sudo().search([("channel_type", "=", "sms"), ("sms_number", "=", number),
                                      ("sms_sender", "=", sender or False)], limit=1)
        users = channel.channel_member_ids.partner_id.user_ids.filtered(lambda u: not u.share) if channel else \
            self._sms_assignees(partner, company)
        reader = users.sorted("id")[:1]
        company_partner = (company or self.env.company).partner_id
        return {"lang": reader.lang or company_partner.lang or self.env.lang,
                "tz": reader.tz or company_partner.tz or self.env.context.get("tz")}

    @api.model
    def _sms_conversation(self, number, sender, partner, company):
        """The conversation of (number, sender), created with its members when there is none."""
        Channel = self.sudo()
        channel = Channel.with_context(active_test=False).search(
            [("channel_type", "=", "sms"), ("sms_number", "=", number), ("sms_sender", "=", sender or False)],
            limit=1)
        if channel:
            if not channel.active:
                channel.active = True
            if partner and not channel.sms_partner_id:
                channel.sms_partner_id = partner
            if company and not channel.sms_company_id:
                channel.sms_company_id = company
            return channel
        users = self._sms_assignees(partner, company)
        channel = Channel.create({
            "name": self._sms_conversation_name(number, partner),
            "channel_type": "sms",
            "sms_number": number,
            "sms_sender": sender or False,
            "sms_partner_id": partner.id or False,
            "sms_company_id": company.id or False,
            "description": _("SMS with %(number)s", number=number),
            "channel_member_ids": [Command.create({"partner_id": pid}) for pid in users.partner_id.ids],
        })
        # Odoo adds whoever creates a channel (here the sync service's user): only the assignees stay.
        channel.channel_member_ids.filtered(lambda m: m.partner_id not in users.partner_id).unlink()
        # SMS conversations notify on every message (they are not broadcast channels).
        channel.channel_member_ids.write({"custom_notifications": "all"})
        return channel

    @api.model
    def _sms_conversation_name(self, number, partner):
        return f"{partner.name} ({number})" if partner else number

    def _sms_answered(self, number, partner):
        """The latest marketing SMS (campaign or flow) sent to `number` within the window (sms.provider.message),
        or an empty record: agents' replies and keyword confirmations are not what a customer answers."""
        since = fields.Datetime.now() - ANSWERED_WINDOW
        return self.env["sms.provider.message"].sudo().search(
            [("number", "=", number), ("date_sent", ">=", since),
             "|", ("is_marketing", "=", True), ("mailing_id", "!=", False)],
            order="date_sent desc, id desc", limit=1)

    def _sms_answered_text(self, outbound):
        """What the thread says about the outbound SMS a reply answers: its campaign or flow, date and text."""
        flow_message = self.env["sms.flow.message"].sudo().search([("sms_uuid", "=", outbound.sms_uuid)], limit=1) \
            if outbound.sms_uuid else self.env["sms.flow.message"]
        body = flow_message.body or ""
        if flow_message:
            origin = _("flow “%(flow)s”, step %(step)s", flow=flow_message.flow_id.name,
                       step=flow_message.step_id.display_name)
        elif outbound.mailing_id:
            origin = _("campaign “%(campaign)s”", campaign=outbound.mailing_id.subject or outbound.mailing_id.name)
            body = outbound.mailing_id.body_plaintext or ""
        else:
            origin = _("transactional SMS")
        sent = fields.Datetime.context_timestamp(self, outbound.date_sent).strftime("%Y-%m-%d %H:%M")
        text = _("Replying to the SMS of %(origin)s sent on %(date)s", origin=origin, date=sent)
        return Markup("<p><b>%s</b></p>") % text + (Markup("<blockquote>%s</blockquote>") % body if body else "")

    def _sms_post_context(self, number, partner):
        """Post, once per outbound SMS, the marketing SMS the customer is replying to."""
        self.ensure_one()
        outbound = self._sms_answered(number, partner)
        if not outbound or outbound == self.sms_answered_id:
            return
        self.sms_answered_id = outbound
        self.sudo().with_context(sms_conversation_no_send=True).message_post(
            body=self._sms_answered_text(outbound), message_type="notification",
            subtype_xmlid="mail.mt_note", author_id=self.env.ref("base.partner_root").id)

    def _sms_post_inbound(self, body, partner, number):
        """The customer's message, authored by the contact (or by the number when no contact has it)."""
        self.ensure_one()
        author = {"author_id": partner.id} if partner else {"author_id": False, "email_from": number}
        message = self.sudo().with_context(sms_conversation_no_send=True).message_post(
            body=body or "", message_type="comment", subtype_xmlid="mail.mt_comment", **author)
        self.channel_member_ids.sudo().write({"unpin_dt": False})
        return message

    def _sms_post_note(self, text):
        """A line from the system in the thread (opt-out, re-subscribe, ...)."""
        self.ensure_one()
        return self.sudo().with_context(sms_conversation_no_send=True).message_post(
            body=text, message_type="notification", subtype_xmlid="mail.mt_note",
            author_id=self.env.ref("base.partner_root").id)

    # ------------------------------------------------------------------ replies
    def _sms_check_reply(self):
        """A member's reply may go: the number is not opted out (after STOP, only the automatic confirmation)."""
        for channel in self.filtered(lambda c: c.channel_type == "sms"):
            if channel.sms_opted_out:
                raise UserError(_(
                    "%(number)s opted out of SMS: after STOP only the automatic confirmation is sent. Your reply "
                    "was not sent; the customer can text START to receive SMS again.", number=channel.sms_number))
            if self.env.user.has_group("sms_marketing_addon.group_sms_marketing_service") \
                    and not self.env.user.has_group("base.group_system"):
                raise AccessError(_("The sync service cannot reply in SMS conversations."))

    @api.returns("mail.message", lambda value: value.id)
    def message_post(self, *, message_type="notification", **kwargs):
        if self.channel_type == "sms" and message_type == "comment" \
                and not self.env.context.get("sms_conversation_no_send"):
            self._sms_check_reply()
        return super().message_post(message_type=message_type, **kwargs)

    def _message_post_after_hook(self, message, msg_vals):
        res = super()._message_post_after_hook(message, msg_vals)
        if self.channel_type == "sms" and message.message_type == "comment" \
                and not self.env.context.get("sms_conversation_no_send"):
            self._sms_send_reply(message)
        return res

    def _sms_send_reply(self, message):
        """The member's message leaves as a transactional SMS (Odoo's queue, so the gateway's routing, rate limits
        and opt-out register apply; no marketing footer), with Odoo's SMS notification on the message."""
        self.ensure_one()
        partner = self.sms_partner_id
        recipients = [{"id": partner.id, "notif": "sms", "active": True, "share": True, "groups": [],
                       "type": "customer"}] if partner else []
        self.sudo()._notify_thread_by_sms(
            message, recipients, sms_content=html2plaintext(message.body or "").strip(),
            sms_numbers=[] if partner else [self.sms_number],
            sms_pid_to_number={partner.id: self.sms_number} if partner else {}, put_in_queue=True)
        self.env["sms.sms"].sudo().search([("mail_message_id", "=", message.id)]).write({
            "sms_kind": "transactional"})

    # ------------------------------------------------------------------ contact
    def action_sms_create_contact(self):
        """Create a contact for the number of a conversation that has none, and link it."""
        self.ensure_one()
        self._sms_check_manage()
        if self.sms_partner_id:
            raise UserError(_("This conversation already has a contact: %s", self.sms_partner_id.display_name))
        partner = self.env["res.partner"].create({"name": self.sms_number, "mobile": self.sms_number})
        self._sms_link_partner(partner)
        return {"type": "ir.actions.act_window", "res_model": "res.partner", "res_id": partner.id,
                "view_mode": "form", "target": "current"}

    def _sms_link_partner(self, partner):
        self.sudo().write({"sms_partner_id": partner.id, "name": self._sms_conversation_name(self.sms_number, partner)})
        self._sms_post_note(_("Linked to the contact %(name)s by %(user)s.", name=partner.display_name,
                              user=self.env.user.name))

    def action_sms_link_contact(self):
        """Link the contact chosen in the form (sms_partner_id) and rename the conversation after it."""
        self.ensure_one()
        self._sms_check_manage()
        if not self.sms_partner_id:
            raise UserError(_("Choose the contact to link first."))
        self._sms_link_partner(self.sms_partner_id)
        return True

    def action_sms_open_discuss(self):
        """Open the conversation in Discuss (an SMS user who is not a member joins it)."""
        self.ensure_one()
        self._sms_check_manage()
        if not self.sudo().channel_member_ids.filtered(lambda m: m.partner_id == self.env.user.partner_id):
            self.sudo()._add_members(users=self.env.user, post_joined_message=False)
        return {"type": "ir.actions.client", "tag": "mail.action_discuss",
                "params": {"active_id": f"discuss.channel_{self.id}"}}

    def _sms_check_manage(self):
        if not (self.env.user.has_group("sms_marketing_addon.group_sms_marketing_user") or self.is_member):
            raise AccessError(_("Only SMS Marketing users and the conversation's members can do this."))
        self.check_access("read")
