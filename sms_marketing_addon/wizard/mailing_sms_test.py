from markupsafe import Markup

from odoo import _, models


class MailingSmsTest(models.TransientModel):
    """The mailing's "Test" button: queue the test SMS for the gateway instead of calling IAP directly."""

    _inherit = "mailing.sms.test"

    def action_send_sms(self):
        self.ensure_one()
        numbers = [number.strip() for number in (self.numbers or "").splitlines() if number.strip()]
        sanitized = [self.env.user._phone_format(number=number) for number in numbers]
        invalid = [number for clean, number in zip(sanitized, numbers) if not clean]
        record = self.env[self.mailing_id.mailing_model_real].search([], limit=1)
        body = self.mailing_id.body_plaintext or ""
        if record:
            body = self.env["mail.render.mixin"]._render_template(
                body, self.mailing_id.mailing_model_real, record.ids)[record.id]
        valid = [number for number in sanitized if number]
        self.env["sms.sms"].sudo().create([
            {"number": number, "body": body, "sms_kind": "transactional"} for number in valid])
        lines = [_("Test SMS queued for the gateway: %s", number) for number in valid]
        if invalid:
            lines.append(_("The following numbers are not correctly encoded: %s", ", ".join(invalid)))
        if lines:
            self.mailing_id._message_log(
                body=Markup("<ul>%s</ul>") % Markup("").join(Markup("<li>%s</li>") % line for line in lines))
        return True
