from datetime import timedelta

from odoo.exceptions import AccessError
from odoo.tests import tagged

from .common import SmsMarketingCase

# Odoo's own bookkeeping columns; every other stored field is proof of consent.
MAGIC = {"id", "create_uid", "create_date", "write_uid", "write_date"}
PROOF = {
    "date", "partner_id", "number", "event", "source", "consent_text", "consent_text_version", "ip_address",
    "user_agent", "inbound_message_id", "user_id", "note", "company_id", "anonymized",
}


@tagged("post_install", "-at_install")
class TestConsentLogRowsAreImmutable(SmsMarketingCase):
    """Each field of a consent-log row is proof: no write changes any of them, for the administrator and
    for code running as superuser (sudo) alike; the row reads the same afterwards."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.admin = cls.env.ref("base.user_admin")
        cls.other_partner = cls.Partner.create({"name": "Someone Else", "mobile": "+33699887766"})
        cls.other_company = cls.env["res.company"].create({"name": "Other SMS Company"})

    def make_row(self):
        partner = self.make_partner()
        partner._sms_opt_in(
            "agent", note="signed the paper form", ip_address="203.0.113.9", user_agent="Firefox",
            consent_text="Yes, text me", consent_text_version="v3", inbound_message_id="SM123",
        )
        return self.logs(partner)[-1]

    def other_value(self, row, name):
        """A value different from the row's, of the field's type."""
        field = row._fields[name]
        current = row[name]
        if field.type == "many2one":
            candidates = {
                "res.partner": self.other_partner, "res.users": self.sms_user, "res.company": self.other_company,
            }
            return candidates[field.comodel_name].id
        if field.type == "selection":
            keys = [key for key, _label in field._description_selection(self.env)]
            return next(key for key in keys if key != current)
        if field.type == "datetime":
            return current + timedelta(days=1)
        if field.type == "boolean":
            return not current
        return f"tampered {current or ''}"

    def test_every_proof_field_is_covered(self):
        stored = {name for name, field in self.Log._fields.items() if field.store and name not in MAGIC}
        self.assertEqual(stored, PROOF, "a new field of the consent log must be added to this test's proof list")

    def test_no_field_can_be_written_by_the_administrator_or_sudo(self):
        row = self.make_row()
        before = row.read(sorted(PROOF))[0]
        for name in sorted(PROOF):
            value = self.other_value(row, name)
            for who, rows in (("administrator", row.with_user(self.admin)), ("sudo", row.sudo())):
                with self.subTest(field=name, who=who), self.assertRaises(AccessError):
                    rows.write({name: value})
        row.invalidate_recordset()
        self.assertEqual(row.read(sorted(PROOF))[0], before)

    def test_a_write_of_several_fields_at_once_is_refused_too(self):
        row = self.make_row()
        with self.assertRaises(AccessError):
            row.sudo().write({"note": "rewritten", "ip_address": "198.51.100.1"})
        row.invalidate_recordset()
        self.assertEqual((row.note, row.ip_address), ("signed the paper form", "203.0.113.9"))
