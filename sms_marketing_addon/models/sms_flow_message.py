from datetime import timedelta

from odoo import api, fields, models

from .sms_flow_enrollment import EXIT_REASONS

MESSAGE_STATES = [
    ("draft", "Being prepared"),
    ("queued", "Queued"),
    ("sent", "Sent"),
    ("delivered", "Delivered"),
    ("failed", "Failed"),
    ("canceled", "Canceled"),
]


class SmsFlowMessage(models.Model):
    """The SMS of one step for one cart (or contact): exactly one per (enrollment, step)."""

    _name = "sms.flow.message"
    _description = "SMS Flow Message"
    _order = "id desc"
    _rec_name = "step_id"

    enrollment_id = fields.Many2one("sms.flow.enrollment", string="Enrollment", required=True, ondelete="cascade",
                                    index=True)
    flow_id = fields.Many2one(related="enrollment_id.flow_id", store=True, index=True)
    step_id = fields.Many2one("sms.flow.step", string="Step", required=True, ondelete="restrict", index=True)
    order_id = fields.Many2one(related="enrollment_id.order_id", store=True, index="btree_not_null")
    partner_id = fields.Many2one("res.partner", string="Contact", index=True, ondelete="set null")
    company_id = fields.Many2one(related="enrollment_id.company_id", store=True)
    channel = fields.Selection([("sms", "SMS"), ("email", "E-mail")], default="sms", required=True,
                               help="E-mail: the step's e-mail fallback went instead of the SMS.")
    mail_id = fields.Many2one("mail.mail", string="E-mail", readonly=True, ondelete="set null",
                              index="btree_not_null")
    number = fields.Char()
    body = fields.Text(readonly=True)
    state = fields.Selection(MESSAGE_STATES, default="draft", required=True, index=True)
    failure_type = fields.Char(string="Failure", readonly=True)
    exit_reason = fields.Selection(
        EXIT_REASONS, string="Canceled because", readonly=True,
        help="The flow's exit condition that held before this message left (it was then cancelled).",
    )
    sms_uuid = fields.Char(string="SMS uuid", index="btree_not_null", readonly=True, copy=False)
    date_queued = fields.Datetime(readonly=True)
    date_sent = fields.Datetime(readonly=True)
    date_delivered = fields.Datetime(readonly=True)
    link_tracker_id = fields.Many2one("link.tracker", string="Tracked link", readonly=True, ondelete="set null")
    short_url = fields.Char(related="link_tracker_id.short_url", string="Short link")
    click_ids = fields.One2many("link.tracker.click", "sms_flow_message_id", string="Click records")
    click_count = fields.Integer(string="Clicks", compute="_compute_clicks", store=True)
    date_clicked = fields.Datetime(string="Last click", compute="_compute_clicks", store=True)
    coupon_id = fields.Many2one("loyalty.card", string="Discount code", readonly=True, ondelete="set null")
    coupon_code = fields.Char(related="coupon_id.code", string="Code")
    media_url = fields.Char(string="MMS image", readonly=True)

    _sql_constraints = [
        ("enrollment_step_unique", "UNIQUE (enrollment_id, step_id)",
         "A step is sent once per cart (or contact)."),
    ]

    @api.depends("click_ids")
    def _compute_clicks(self):
        for message in self:
            message.click_count = len(message.click_ids)
            message.date_clicked = max(message.click_ids.mapped("create_date"), default=False)

    # ------------------------------------------------------------------ sending
    def _sms_flow_link_target(self):
        self.ensure_one()
        order = self.enrollment_id.order_id
        if order:
            return order._sms_flow_recovery_url()
        return self.enrollment_id.link_url or f"{self.partner_id.get_base_url()}/shop"

    def _sms_flow_queue(self, now):
        """Build the tracked link, the discount code and the body, and queue the SMS (marketing)."""
        self.ensure_one()
        enrollment, step, flow = self.enrollment_id, self.step_id, self.flow_id
        record = enrollment._sms_flow_record()
        medium = self.env.ref("mass_mailing_sms.utm_medium_sms", raise_if_not_found=False)
        tracker = self.env["link.tracker"].sudo().create({
            "url": self._sms_flow_link_target(), "title": flow.name,
            "campaign_id": flow.campaign_id.id, "medium_id": medium.id if medium else False,
            "source_id": step.source_id.id, "label": f"sms-flow-message-{self.id}",
            "sms_flow_message_id": self.id,
        })
        coupon = self.env["loyalty.card"]
        if step.coupon_program_id:
            program = step.coupon_program_id.sudo()
            coupon = self.env["loyalty.card"].sudo().create({
                "program_id": program.id, "partner_id": enrollment.partner_id.id,
                "points": max(program.reward_ids.mapped("required_points") or [1.0]),
                "expiration_date": (now + timedelta(days=step.coupon_validity_days)).date()
                if step.coupon_validity_days else False,
            })
        if self.channel == "email":
            return self._sms_flow_queue_email(now, record, tracker, coupon)
        template = step.template_id.sudo().with_context(
            sms_flow_link=tracker.short_url, sms_flow_coupon_code=coupon.code or "")
        # One language per SMS: the recipient's (contact's, else the cart's website's, else the company's); the
        # gate adds the footer in the same language.
        lang = self.env["res.partner"]._sms_recipient_lang(
            enrollment.partner_id, company=enrollment.company_id or None,
            website=enrollment.order_id.website_id or None)
        body = template._render_field("body", record.ids, set_lang=lang)[record.id]
        media_url = self._sms_flow_media_url() if step.mms_image else False
        sms = self.env["sms.sms"].sudo().create({
            "number": self.number, "partner_id": self.partner_id.id, "body": body, "sms_kind": "marketing",
            "sms_media_url": media_url, "state": "outgoing",
        })
        self.write({
            "state": "queued", "body": body, "sms_uuid": sms.uuid, "date_queued": now,
            "link_tracker_id": tracker.id, "coupon_id": coupon.id, "media_url": media_url,
        })

    def _sms_flow_queue_email(self, now, record, tracker, coupon):
        """The step's e-mail fallback, queued in Odoo's outgoing mail to the contact alone (rendered in the
        contact's language by the template); sent by Odoo's mail queue, after the flow's exits are checked again
        (see mail.mail)."""
        template = self.step_id.email_template_id.sudo().with_context(
            sms_flow_link=tracker.short_url, sms_flow_coupon_code=coupon.code or "")
        mail_id = template.send_mail(record.id, force_send=False, email_values={
            "recipient_ids": [(6, 0, self.partner_id.ids)], "email_to": False, "email_cc": False,
            "sms_flow_fallback": True,
        })
        mail = self.env["mail.mail"].sudo().browse(mail_id)
        self.write({"state": "queued", "body": mail.subject, "mail_id": mail.id, "date_queued": now,
                    "link_tracker_id": tracker.id, "coupon_id": coupon.id, "number": False})

    def _sms_flow_media_url(self):
        """Public URL of the image of the cart's first product, for MMS."""
        order = self.enrollment_id.order_id
        product = order.website_order_line.product_id[:1] if order else False
        if not product or not product.image_128:
            return False
        return f"{order.get_base_url()}/web/image/product.product/{product.id}/image_512"

    # ------------------------------------------------------------------ exits
    def _sms_flow_exit_reason(self):
        """Why this message must not leave now (an EXIT_REASONS key), or False: its enrollment exited, its flow
        is archived, its cart is no longer an open cart (confirmed, cancelled, emptied...), its contact may not
        receive marketing SMS (opted out...). Checked at claim time, however long it waited in the queue."""
        self.ensure_one()
        enrollment = self.enrollment_id
        if enrollment.state == "exited" and enrollment.exit_reason:
            return enrollment.exit_reason
        if not self.flow_id.active:
            return "flow_inactive"
        order = enrollment.order_id
        if order:
            reason = order._sms_flow_cart_reason()
            if reason:
                return reason if reason in dict(EXIT_REASONS) else "not_draft"
        else:
            reason = enrollment._sms_flow_trigger_exit_reason()
            if reason:
                return reason
        partner = self.partner_id or enrollment.partner_id
        if self.channel == "email":
            return False if self.env["sms.flow.enrollment"]._sms_flow_accepts_email(partner) else "opted_out"
        return self.env["sms.flow.enrollment"]._sms_flow_contact_reason(partner)

    # ------------------------------------------------------------------ outcome of the SMS
    @api.model
    def _sms_flow_update(self, uuids, values):
        if not uuids:
            return self.browse()
        messages = self.sudo().search([("sms_uuid", "in", list(uuids))])
        if messages:
            messages.write(values)
        return messages
