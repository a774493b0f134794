from odoo.exceptions import ValidationError
from odoo.tests import Form, TransactionCase, new_test_user, tagged

from odoo.addons.sms_marketing_addon.tools.segments import count_segments


@tagged("post_install", "-at_install")
class TestSegmentCount(TransactionCase):
    """The pure counter (must give the same results as sync_service/core/segments.py)."""

    def check(self, text, encoding, segments, units=None, characters=None):
        info = count_segments(text)
        self.assertEqual((info["encoding"], info["segments"]), (encoding, segments), repr(text[:20]))
        if units is not None:
            self.assertEqual(info["units"], units)
        if characters is not None:
            self.assertEqual(info["characters"], characters)
        return info

    def test_known_cases(self):
        cases = [
            ("", "GSM-7", 0, 0, 0),
            ("a", "GSM-7", 1, 1, 1),
            ("a" * 160, "GSM-7", 1, 160, 160),
            ("a" * 161, "GSM-7", 2, 161, 161),
            ("a" * 306, "GSM-7", 2, 306, 306),
            ("a" * 307, "GSM-7", 3, 307, 307),
            ("€", "GSM-7", 1, 2, 1),
            ("€" * 80, "GSM-7", 1, 160, 80),
            ("€" * 81, "GSM-7", 2, 162, 81),
            ("^{}\\[~]|\f", "GSM-7", 1, 18, 9),
            ("Ç" * 160, "GSM-7", 1, 160, 160),  # Ç is in the GSM-7 table, ç is not
            ("ç", "UCS-2", 1, 1, 1),
            ("ç" * 70, "UCS-2", 1, 70, 70),
            ("ç" * 71, "UCS-2", 2, 71, 71),
            ("ç" * 134, "UCS-2", 2, 134, 134),
            ("ç" * 135, "UCS-2", 3, 135, 135),
            ("😀", "UCS-2", 1, 2, 1),
            ("a" * 69 + "😀", "UCS-2", 2, 71, 70),
        ]
        for text, encoding, segments, units, characters in cases:
            with self.subTest(text=text[:10], length=len(text)):
                self.check(text, encoding, segments, units, characters)

    def test_multipart_capacity_and_non_gsm(self):
        info = self.check("Hello ç 😀 ç", "UCS-2", 1)
        self.assertEqual(info["non_gsm"], ["ç", "😀"])
        self.assertEqual(info["per_segment"], 70)
        self.assertEqual(self.check("a" * 200, "GSM-7", 2)["per_segment"], 153)
        self.assertEqual(self.check("a" * 10, "GSM-7", 1)["non_gsm"], [])

    def test_escape_pair_and_surrogate_pair_never_split(self):
        # 152 septets then '€' (2 septets): the pair cannot straddle the first part's boundary (153).
        self.check("a" * 152 + "€" + "a" * 10, "GSM-7", 2, 164)
        self.check("a" * 152 + "€" + "a" * 152, "GSM-7", 3, 306)
        # 66 units then an emoji (2 units): the surrogate pair moves to the second part (67 per part).
        self.check("ç" * 66 + "😀" + "ç" * 66, "UCS-2", 3, 134)
        self.check("ç" * 65 + "😀" + "ç" * 67, "UCS-2", 2, 134)


class SegmentFieldsCase(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company = cls.env.company
        cls.company.write({"sms_optout_footer": False, "sms_max_segments": 2})
        cls.partner_model = cls.env["ir.model"]._get("res.partner")
        # Sorts first among partners (order: complete_name, id desc): the sample record of the renders.
        cls.sample = cls.env["res.partner"].create({"name": "A" * 200})

    def footer(self):
        return "\n" + self.company._sms_optout_footer()


@tagged("post_install", "-at_install")
class TestTemplateSegments(SegmentFieldsCase):
    def make_template(self, body, **values):
        return self.env["sms.template"].create(
            {"name": "Promo", "model_id": self.partner_model.id, "body": body, **values}
        )

    def test_sample_is_the_long_partner(self):
        self.assertEqual(self.env["res.partner"].search([], limit=1), self.sample)

    def test_rendered_with_sample_and_footer(self):
        template = self.make_template("Hi {{ object.name }}")
        expected = count_segments("Hi " + "A" * 200 + self.footer())
        self.assertEqual(template.sms_segment_count, 2)
        self.assertEqual(template.sms_segment_count, expected["segments"])
        self.assertEqual(template.sms_char_count, 3 + 200 + len(self.footer()))
        self.assertEqual(template.sms_encoding, "GSM-7")
        summary = "2 segments · GSM-7 · %d characters" % template.sms_char_count
        self.assertEqual(template.sms_segment_summary, summary)
        self.assertFalse(template.sms_segment_warning)

    def test_footer_counted(self):
        template = self.make_template("Hello")
        self.assertEqual(self.company._sms_optout_footer(), "STOP SMS")
        self.assertEqual(template.sms_char_count, len("Hello\nSTOP SMS"))
        self.assertEqual(template.sms_segment_summary, "1 segment · GSM-7 · 14 characters")
        self.company.sms_optout_footer = "Répondez STOP au 36179 pour ne plus recevoir nos offres 🙏"
        template.invalidate_recordset()
        self.assertEqual(template.sms_char_count, len("Hello\n" + self.company.sms_optout_footer))
        self.assertEqual(template.sms_encoding, "UCS-2")
        self.assertEqual(template.sms_non_gsm_characters, "🙏")

    def test_warning_above_company_limit(self):
        template = self.make_template("{{ object.name }} {{ object.name }}")  # 401 chars + footer: 3 segments
        self.assertEqual(template.sms_segment_count, 3)
        self.assertIn("3", template.sms_segment_warning)
        self.assertIn("2", template.sms_segment_warning)
        self.company.sms_max_segments = 3
        template.invalidate_recordset()
        self.assertFalse(template.sms_segment_warning)
        self.company.sms_max_segments = 0  # disabled
        template.invalidate_recordset()
        self.assertFalse(template.sms_segment_warning)

    def test_unknown_placeholder_refused_at_save(self):
        with self.assertRaises(ValidationError) as caught:
            self.make_template("Hi {{ object.no_such_field }}")
        message = str(caught.exception)
        self.assertIn("{{ object.no_such_field }}", message)
        self.assertIn("Contact has no field “no_such_field”", message)
        self.assertNotIn("AttributeError", message)

        template = self.make_template("Hi {{ object.name }}")
        with self.assertRaises(ValidationError) as caught:
            template.body = "Hi {{ object.name + }}"
        self.assertIn("{{ object.name + }}", str(caught.exception))
        self.assertIn("it is not a valid expression", str(caught.exception))
        with self.assertRaises(ValidationError) as caught:
            template.body = "Hi {{ object.parent_id.no_such_field }}"
        self.assertIn("no_such_field", str(caught.exception))
        with self.assertRaises(ValidationError) as caught:
            template.body = "Hi {{ no_such_name }} {{ object.name }}"
        self.assertIn("“no_such_name” is unknown: a placeholder starts with object", str(caught.exception))
        for unclosed in ("Bonjour {{ object.name ", "Bonjour {{ object.name }} et {{ object.city"):
            with self.assertRaisesRegex(ValidationError, "A placeholder is not closed"):
                template.body = unclosed
        with self.assertRaisesRegex(ValidationError, "without its"):
            template.body = "Bonjour object.name }}"
        # Defaults and valid expressions are fine.
        template.body = ("Hi {{ object.name ||| there }}, {{ object.parent_id.name }} "
                         "{{ format_date(object.create_date) }}")
        # Failures that depend on the sample's data are not the placeholder's fault (sample has no parent).
        template.body = "Hi {{ object.parent_id.name.upper() }}"
        # Module data is never blocked.
        template.with_context(install_filename="x.xml").body = "Hi {{ object.no_such_field }}"

    def test_static_check_without_sample(self):
        template = self.make_template("Hi")
        check = template._sms_segment_static_error
        self.assertIn("no_such_field", check("object.parent_id.no_such_field", "res.partner"))
        self.assertIn("SyntaxError", check("object.name +", "res.partner"))
        self.assertFalse(check("object.parent_id.name", "res.partner"))
        self.assertFalse(check("object.name.upper()", "res.partner"))

    def test_form_updates_live(self):
        form = Form(self.env["sms.template"])
        form.name = "Live"
        form.model_id = self.partner_model
        form.body = "Short"
        self.assertEqual(form.sms_segment_count, 1)
        self.assertEqual(form.sms_char_count, len("Short" + self.footer()))
        form.body = "a" * 290  # + "\nSTOP SMS": 299 septets
        self.assertEqual(form.sms_segment_count, 2)
        form.body = "Hi {{ object.name }} " + "ç"
        self.assertEqual(form.sms_encoding, "UCS-2")
        expected = count_segments("Hi " + "A" * 200 + " ç" + self.footer())
        self.assertEqual(form.sms_segment_count, expected["segments"])
        self.assertEqual(form.sms_segment_count, 4)
        template = form.save()
        self.assertEqual(template.sms_segment_count, 4)


@tagged("post_install", "-at_install")
class TestMailingSegments(SegmentFieldsCase):
    def make_mailing(self, body, **values):
        return self.env["mailing.mailing"].create({
            "name": "Promo", "subject": "Promo", "sms_subject": "Promo", "mailing_type": "sms",
            "mailing_model_id": self.partner_model.id, "body_plaintext": body, "sms_allow_unsubscribe": False,
            **values,
        })

    def test_mailing_counter(self):
        mailing = self.make_mailing("Hi {{ object.name }}")
        self.assertEqual(mailing.mailing_model_real, "res.partner")
        self.assertEqual(mailing.sms_char_count, 3 + 200)
        self.assertEqual(mailing.sms_segment_count, 2)
        mailing.sms_allow_unsubscribe = True
        stop = "\nSTOP SMS: %s/sms/%d/xxx" % (mailing.get_base_url(), mailing.id)
        self.assertEqual(mailing.sms_char_count, 3 + 200 + len(stop))
        self.assertEqual(mailing.sms_segment_count, count_segments("Hi " + "A" * 200 + stop)["segments"])

    def test_mailing_links_counted_as_short_links(self):
        long_url = "https://www.example.com/" + "x" * 150
        mailing = self.make_mailing("Offer: %s" % long_url)
        self.assertLess(mailing.sms_char_count, 40 + len("Offer: "))
        self.assertEqual(mailing.sms_segment_count, 1)

    def test_mail_mailing_has_no_counter(self):
        mailing = self.env["mailing.mailing"].create({
            "name": "Mail", "subject": "Mail", "mailing_type": "mail",
            "mailing_model_id": self.partner_model.id, "body_html": "<p>Hi</p>",
        })
        self.assertEqual(mailing.sms_segment_count, 0)
        self.assertFalse(mailing.sms_segment_summary)

    def test_mailing_unknown_placeholder_refused(self):
        with self.assertRaises(ValidationError) as caught:
            self.make_mailing("Hi {{ object.no_such_field }}")
        self.assertIn("no_such_field", str(caught.exception))
        mailing = self.make_mailing("Hi")
        with self.assertRaises(ValidationError):
            mailing.body_plaintext = "{{ object.name }} {{ object.no_such_field }}"

    def test_mailing_form_updates_live(self):
        form = Form(
            self.env["mailing.mailing"].with_context(default_mailing_type="sms"),
            view="mass_mailing_sms.mailing_mailing_view_form_sms",
        )
        form.sms_subject = "Live"
        form.mailing_model_id = self.partner_model
        form.sms_allow_unsubscribe = False
        form.body_plaintext = "Short"
        self.assertEqual(form.sms_segment_count, 1)
        self.assertEqual(form.sms_char_count, 5)
        form.body_plaintext = "{{ object.name }}"
        self.assertEqual(form.sms_char_count, 200)
        self.assertEqual(form.sms_segment_count, 2)
        form.sms_allow_unsubscribe = True
        self.assertGreater(form.sms_char_count, 200 + len("\nSTOP SMS: "))


@tagged("post_install", "-at_install")
class TestRestrictedUser(SegmentFieldsCase):
    """Users outside the template editor group: the counter never evaluates their dynamic expressions."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        editor = cls.env.ref("mail.group_mail_template_editor")
        cls.env.ref("base.group_user").write({"implied_ids": [(3, editor.id)]})
        cls.user = new_test_user(
            cls.env, login="sms_seg_marketer", groups="base.group_user,mass_mailing.group_mass_mailing_user"
        )
        cls.user.groups_id -= editor
        cls.assertFalse(cls, cls.user.has_group("mail.group_mail_template_editor"))

    def test_template_onchange_does_not_evaluate(self):
        body = "{{ object.sudo().write({'comment': 'evaluated'}) }}"
        form = Form(self.env["sms.template"].with_user(self.user))
        form.model_id = self.partner_model
        form.body = body
        self.assertEqual(form.sms_char_count, len(body + self.footer()))  # counted as typed
        self.assertNotEqual(self.sample.comment, "evaluated")

    def test_mailing_simple_placeholders_still_rendered(self):
        form = Form(
            self.env["mailing.mailing"].with_user(self.user).with_context(default_mailing_type="sms"),
            view="mass_mailing_sms.mailing_mailing_view_form_sms",
        )
        form.mailing_model_id = self.partner_model
        form.sms_allow_unsubscribe = False
        form.body_plaintext = "{{ object.name }}"
        self.assertEqual(form.sms_char_count, 200)
        form.body_plaintext = "{{ object.sudo().write({'comment': 'evaluated'}) }}"
        self.assertEqual(form.sms_char_count, len(form.body_plaintext))
        self.assertNotEqual(self.sample.comment, "evaluated")
