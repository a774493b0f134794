from odoo.tests import TransactionCase, tagged


@tagged("post_install", "-at_install")
class TestInstall(TransactionCase):
    def test_addon_installed_with_phonenumbers(self):
        module = self.env["ir.module.module"].search([("name", "=", "sms_marketing_addon")])
        self.assertEqual(module.state, "installed")
        # Odoo sanitises numbers only when phonenumbers is importable: the suite relies on it.
        partner = self.env["res.partner"].create(
            {"name": "Camille", "mobile": "06 12 34 56 78", "country_id": self.env.ref("base.fr").id}
        )
        self.assertEqual(partner.phone_sanitized, "+33612345678")
