from odoo import _, api, models


class PhoneBlacklist(models.Model):
    """Odoo's opt-out register is ours too: a number blacklisted or released in Odoo (SMS Marketing's
    unsubscribe link, the Blacklist menu) updates the consent of every contact with that SMS number."""

    _inherit = "phone.blacklist"

    @api.model_create_multi
    def create(self, vals_list):
        before = {
            bl.number: bl.active
            for bl in self.with_context(active_test=False).search([("number", "in", [v.get("number") for v in vals_list])])
        } if not self.env.context.get("sms_marketing_no_sync") else {}
        records = super().create(vals_list)
        if not self.env.context.get("sms_marketing_no_sync"):
            added = records.filtered(lambda bl: bl.active and not before.get(bl.number))
            added._sms_sync_partners(True)
        return records

    def write(self, vals):
        if "active" not in vals or self.env.context.get("sms_marketing_no_sync"):
            return super().write(vals)
        changed = self.filtered(lambda bl: bl.active != bool(vals["active"]))
        res = super().write(vals)
        changed._sms_sync_partners(bool(vals["active"]))
        return res

    def _sms_sync_partners(self, blacklisted):
        numbers = [n for n in self.mapped("number") if n]
        if not numbers:
            return
        Partner = self.env["res.partner"].sudo().with_context(active_test=False)
        if blacklisted:
            partners = Partner.search([("sms_number", "in", numbers), ("sms_consent_state", "!=", "opted_out")])
            by_number = {}
            for partner in partners:
                by_number.setdefault(partner.sms_number, partner.browse())
                by_number[partner.sms_number] |= partner
            for number in numbers:
                found = by_number.get(number, Partner.browse())
                found._sms_write_internal({
                    "sms_consent_state": "opted_out", "sms_optout_date": self.env.cr.now(),
                    "sms_optout_source": "odoo", "sms_consent_pending_date": False,
                })
                self.env["sms.consent.log"]._log(found, "opt_out", "odoo", number=number,
                                                  note=_("Number added to Odoo's blacklist"))
        else:
            partners = Partner.search([("sms_number", "in", numbers), ("sms_consent_state", "=", "opted_out")])
            partners._sms_write_internal({"sms_consent_state": "none"})
            if partners:
                self.env["sms.consent.log"]._log(partners, "optout_lifted", "odoo",
                                                  note=_("Number removed from Odoo's blacklist"))
