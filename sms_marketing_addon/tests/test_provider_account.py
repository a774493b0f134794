"""Gateway accounts as an administrator sets them up: the sender as the provider wants it, one default route."""

from odoo.exceptions import ValidationError
from odoo.tests import TransactionCase, tagged


@tagged("post_install", "-at_install")
class TestProviderAccount(TransactionCase):
    def setUp(self):
        super().setUp()
        self.Account = self.env["sms.provider.account"]
        self.Account.search([]).action_archive()

    def test_the_sender_is_saved_as_the_provider_wants_it(self):
        account = self.Account.create({"name": "T", "provider": "twilio", "sender": " +33 6 12-34 (56) 78 "})
        self.assertEqual(account.sender, "+33612345678")
        for typed, saved in (("0033 6 12 34 56 78", "+33612345678"), ("36123", "36123"), ("DemoShop", "DemoShop"),
                             ("Maison & Co", "Maison & Co")):
            account.sender = typed
            self.assertEqual(account.sender, saved)
        for wrong in ("+33 7 00", "A very long sender name", "DemoShop!", "+33 6 12 34 56 78 90"):
            with self.subTest(sender=wrong), self.assertRaises(ValidationError):
                account.sender = wrong
        self.assertEqual(account.sender, "Maison & Co")

    def test_one_default_route_per_company(self):
        first = self.Account.create({"name": "First", "provider": "console", "is_default": True})
        second = self.Account.create({"name": "Second", "provider": "console", "is_default": True})
        self.assertEqual((first.is_default, second.is_default), (False, True), "the new default replaces the old")
        first.is_default = True
        self.assertEqual((first.is_default, second.is_default), (True, False))
        other_company = self.env["res.company"].create({"name": "Other shop"})
        theirs = self.Account.create({"name": "Theirs", "provider": "console", "is_default": True,
                                      "company_id": other_company.id})
        self.assertTrue(first.is_default and theirs.is_default, "one per company")
        self.assertEqual(self.Account._route("+4912345678"), first)
