from odoo import fields
from odoo.exceptions import ValidationError
from odoo.tests import Form, TransactionCase, new_test_user, tagged

from odoo.addons.sms_marketing_addon.tools.segments import count_segments

from .common import load_french

BRAND = "Shop"
FOOTER_FR_POLICY = "\nReply STOP SMS to opt out"  # France's policy in force, in English
FOOTER_US_POLICY = "\nReply STOP to opt out"


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
    """The count shown is the text its sample recipient receives: brand first, the opt-out footer of the
    recipient's policy (France here) in the recipient's language last, as the compliance gate decorates it."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company = cls.env.company
        cls.company.write({"sms_brand_name": BRAND, "sms_max_segments": 2})
        cls.partner_model = cls.env["ir.model"]._get("res.partner")
        # Sorts first among partners (order: complete_name, id desc): the sample record of the renders.
        cls.sample = cls.env["res.partner"].create({
            "name": "A" * 200, "mobile": "06 12 34 56 78", "country_id": cls.env.ref("base.fr").id, "lang": "en_US",
        })
        cls.policy_fr = cls.env.ref("sms_marketing_addon.policy_fr")

    def decorated(self, text, footer=FOOTER_FR_POLICY):
        return "%s: %s%s" % (BRAND, text, footer)

    def open_policies(self):
        """Any hour, any day, no cap: the gate lets a marketing SMS through whatever the wall clock says."""
        self.env["sms.compliance.policy"].search([]).write({
            "hour_start": 0, "hour_end": 24, "cap_count": 0, "day_sun": True, "day_sat": True,
        })
        self.env["sms.compliance.holiday"].search([]).unlink()


@tagged("post_install", "-at_install")
class TestTemplateSegments(SegmentFieldsCase):
    def make_template(self, body, **values):
        return self.env["sms.template"].create(
            {"name": "Promo", "model_id": self.partner_model.id, "body": body, **values}
        )

    def test_sample_is_the_long_partner(self):
        self.assertEqual(self.env["res.partner"].search([], limit=1), self.sample)

    def test_rendered_with_sample_brand_and_footer(self):
        template = self.make_template("Hi {{ object.name }}")
        text = self.decorated("Hi " + "A" * 200)
        self.assertEqual(template.sms_char_count, len(text))
        self.assertEqual(template.sms_segment_count, count_segments(text)["segments"])
        self.assertEqual(template.sms_segment_count, 2)
        self.assertEqual(template.sms_encoding, "GSM-7")
        self.assertEqual(template.sms_segment_summary, "2 segments · GSM-7 · %d characters" % len(text))
        self.assertIn("A" * 200, template.sms_segment_sample)
        self.assertIn("France", template.sms_segment_sample)
        self.assertFalse(template.sms_segment_warning)

    def test_sample_prefers_a_contact_who_receives_marketing_sms(self):
        zoe = self.env["res.partner"].create({
            "name": "Zoé", "mobile": "+1 201 555 0199", "country_id": self.env.ref("base.us").id})
        zoe._sms_opt_in("agent", note="test")
        template = self.make_template("Hi {{ object.name }}")
        self.assertIn("Zoé", template.sms_segment_sample)
        self.assertEqual(template.sms_char_count, len(self.decorated("Hi Zoé", FOOTER_US_POLICY)))

    def test_policy_decides_brand_and_footer(self):
        template = self.make_template("Hello")
        self.assertEqual(template.sms_char_count, len("Shop: Hello\nReply STOP SMS to opt out"))
        self.policy_fr.optout_footer = "Répondez STOP au 36179 pour ne plus recevoir nos offres 🙏"
        template.invalidate_recordset()
        self.assertEqual(template.sms_char_count, len("Shop: Hello\n" + self.policy_fr.optout_footer))
        self.assertEqual(template.sms_encoding, "UCS-2")
        self.assertEqual(template.sms_non_gsm_characters, "🙏")
        self.policy_fr.write({"brand_prefix": False, "optout_footer": False})
        template.invalidate_recordset()
        self.assertEqual(template.sms_char_count, len("Hello"))

    def test_body_with_brand_and_instruction_is_counted_as_typed(self):
        body = "Shop: new arrivals today. Reply STOP SMS to opt-out."
        template = self.make_template(body)
        self.assertEqual(template.sms_char_count, len(body))
        template.body = "non-stop deals"  # no instruction: the footer is added
        self.assertEqual(template.sms_char_count, len(self.decorated("non-stop deals")))

    def test_united_states_recipient(self):
        self.sample.write({"country_id": self.env.ref("base.us").id, "mobile": "+1 201 555 0123"})
        template = self.make_template("Hello")
        self.assertEqual(template.sms_char_count, len(self.decorated("Hello", FOOTER_US_POLICY)))

    def test_footer_and_body_in_the_recipient_language(self):
        load_french(self.env)
        template = self.make_template("Hello {{ object.name }}")
        template.with_context(lang="fr_FR").body = "Bonjour {{ object.name }}"
        self.sample.lang = "fr_FR"
        template.invalidate_recordset()
        # The policy's footer in French ("STOP SMS"), the template's French body.
        self.assertEqual(template.sms_char_count, len("Shop: Bonjour " + "A" * 200 + "\nSTOP SMS"))
        self.assertIn("French", template.sms_segment_sample)

    def test_flow_link_and_code_counted_as_sent(self):
        """A flow renders its short tracked link (`<base>/r/<code>`) and a single-use code (14 characters)."""
        template = self.make_template("Code {{ object.sms_flow_coupon_code }} {{ object.sms_flow_link }}")
        link = self.env["link.tracker"].get_base_url() + "/r/xxx"
        self.assertEqual(template.sms_char_count, len(self.decorated("Code %s %s" % ("x" * 14, link))))

    def test_count_equals_what_the_welcome_flow_sends(self):
        """Through the real path: the welcome flow renders the template for the contact, the gate decorates it
        at claim time; the SMS that leaves has the segments the template showed for that contact."""
        self.open_policies()
        flow = self.env.ref("sms_marketing_addon.sms_flow_welcome")
        flow.active = True
        template = flow.step_ids.template_id
        bodies = [
            "Welcome! {{ object.sms_flow_link }}",
            "Bienvenue chez nous, voici votre lien : {{ object.sms_flow_link }} " + "é" * 60,
            "{{ object.name }} 🎉 " + "x" * 40 + " {{ object.sms_flow_link }}",
        ]
        for body in bodies:
            with self.subTest(body=body):
                template.body = body
                shown = (template.sms_segment_count, template.sms_char_count)
                self.sample._sms_opt_out("agent", note="test")
                self.env["sms.sms"].search([("partner_id", "=", self.sample.id)]).unlink()
                self.env["sms.flow.enrollment"].search([("partner_id", "=", self.sample.id)]).unlink()
                self.sample._sms_opt_in("agent", note="test")
                sms = self.env["sms.sms"].search([("partner_id", "=", self.sample.id)])
                self.assertEqual(len(sms), 1)
                to_send, __, __ = sms._sms_gate(fields.Datetime.now())
                self.assertEqual(to_send, sms)
                sent = count_segments(sms.body)
                self.assertEqual(shown, (sent["segments"], sent["characters"]), sms.body)

    def test_warning_above_company_limit(self):
        template = self.make_template("{{ object.name }} {{ object.name }}")  # 401 chars + brand, footer
        self.assertEqual(template.sms_segment_count, 3)
        self.assertIn("3", template.sms_segment_warning)
        self.assertIn("2", template.sms_segment_warning)
        self.company.sms_max_segments = 3
        template.invalidate_recordset()
        self.assertFalse(template.sms_segment_warning)
        self.company.sms_max_segments = 0  # disabled
        template.invalidate_recordset()
        self.assertFalse(template.sms_segment_warning)

    def test_flow_step_shows_its_template_count(self):
        template = self.make_template("Hi {{ object.name }}")
        flow = self.env.ref("sms_marketing_addon.sms_flow_welcome")
        step = self.env["sms.flow.step"].create({"flow_id": flow.id, "delay": 1, "template_id": template.id})
        self.assertEqual(step.template_segment_summary, template.sms_segment_summary)
        self.assertIn("2 segments", step.template_segment_summary)

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
        self.assertEqual(form.sms_char_count, len(self.decorated("Short")))
        form.body = "a" * 250  # + brand and footer: 282 septets
        self.assertEqual(form.sms_segment_count, 2)
        form.body = "Hi {{ object.name }} " + "ç"
        self.assertEqual(form.sms_encoding, "UCS-2")
        expected = count_segments(self.decorated("Hi " + "A" * 200 + " ç"))
        self.assertEqual(form.sms_segment_count, expected["segments"])
        self.assertEqual(form.sms_segment_count, 4)
        template = form.save()
        self.assertEqual(template.sms_segment_count, 4)


@tagged("post_install", "-at_install")
class TestMailingSegments(SegmentFieldsCase):
    def make_mailing(self, body, recipients=None, **values):
        return self.env["mailing.mailing"].create({
            "name": "Promo", "subject": "Promo", "sms_subject": "Promo", "mailing_type": "sms",
            "mailing_model_id": self.partner_model.id, "body_plaintext": body, "sms_allow_unsubscribe": False,
            "mailing_domain": repr([("id", "in", (recipients or self.sample).ids)]), **values,
        })

    def test_mailing_counter(self):
        mailing = self.make_mailing("Hi {{ object.name }}")
        self.assertEqual(mailing.mailing_model_real, "res.partner")
        self.assertEqual(mailing.sms_char_count, len(self.decorated("Hi " + "A" * 200)))
        self.assertEqual(mailing.sms_segment_count, 2)
        mailing.sms_allow_unsubscribe = True  # Odoo's unsubscribe line replaces the footer
        stop = "\nSTOP SMS: %s/sms/%d/xxx" % (mailing.get_base_url(), mailing.id)
        self.assertEqual(mailing.sms_char_count, len("Shop: Hi " + "A" * 200 + stop))

    def test_sample_is_the_first_recipient(self):
        zoe = self.env["res.partner"].create({
            "name": "Zoé", "mobile": "+1 201 555 0199", "country_id": self.env.ref("base.us").id})
        mailing = self.make_mailing("Hi {{ object.name }}", recipients=zoe)
        self.assertEqual(mailing.sms_char_count, len(self.decorated("Hi Zoé", FOOTER_US_POLICY)))
        self.assertIn("Zoé", mailing.sms_segment_sample)

    def test_mailing_links_counted_as_short_links(self):
        long_url = "https://www.example.com/" + "x" * 150
        mailing = self.make_mailing("Offer: %s" % long_url)
        tracker = self.env["link.tracker"].search([("url", "=", long_url), ("source_id", "=", mailing.source_id.id)])
        self.assertEqual(len(tracker), 1, "made when the mailing is saved, as the composer would")
        self.assertLess(mailing.sms_char_count, 100)
        self.assertIn(len("%s/s/" % tracker.short_url), range(mailing.sms_char_count))

    def test_count_equals_what_the_gate_sends(self):
        """Through the real path: the mailing queues (composer: short links with the SMS id, unsubscribe line),
        the gate decorates at claim time; the SMS has the segments and characters the mailing showed."""
        self.open_policies()
        self.sample._sms_opt_in("agent", note="test")
        bodies = [
            ("Hi {{ object.name }}", False),
            ("Soldes d'été ! -20 %% sur tout : https://www.example.com/%s" % ("x" * 100), False),
            ("Flash sale 🎉 https://shop.example.com/a?b=c and https://shop.example.com/d", True),
            ("x" * 128, False),  # + "Shop: " and the footer: exactly 160 septets
            ("x" * 129, False),
        ]
        for body, unsubscribe in bodies:
            with self.subTest(body=body):
                mailing = self.make_mailing(body, sms_allow_unsubscribe=unsubscribe)
                shown = (mailing.sms_segment_count, mailing.sms_char_count)
                mailing.action_send_sms()
                sms = self.env["sms.sms"].search([("mailing_id", "=", mailing.id)])
                self.assertEqual(len(sms), 1)
                to_send, __, __ = sms._sms_gate(fields.Datetime.now())
                self.assertEqual(to_send, sms)
                sent = count_segments(sms.body)
                self.assertEqual(shown, (sent["segments"], sent["characters"]), sms.body)
        self.assertEqual(count_segments(self.decorated("x" * 128))["units"], 160)

    def test_cost_estimate(self):
        self.sample._sms_opt_in("agent", note="test")
        other = self.env["res.partner"].create({
            "name": "B", "mobile": "06 12 34 56 79", "country_id": self.env.ref("base.fr").id})
        other._sms_opt_in("agent", note="test")
        mailing = self.make_mailing("Hi {{ object.name }}", recipients=self.sample | other)
        self.assertFalse(mailing.sms_cost_estimate)
        mailing.action_sms_check_recipients()
        self.assertEqual(mailing.sms_preview_now + mailing.sms_preview_deferred, 2)
        self.assertEqual(mailing.sms_cost_estimate, "Recipients × segments: 2 × 2 = 4")

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
        self.assertEqual(form.sms_char_count, len(self.decorated("Short")))
        form.body_plaintext = "{{ object.name }}"
        self.assertEqual(form.sms_char_count, len(self.decorated("A" * 200)))
        self.assertEqual(form.sms_segment_count, 2)
        form.sms_allow_unsubscribe = True
        self.assertGreater(form.sms_char_count, len("Shop: " + "A" * 200 + "\nSTOP SMS: "))


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
        self.assertEqual(form.sms_char_count, len(self.decorated(body)))  # counted as typed
        self.assertNotEqual(self.sample.comment, "evaluated")

    def test_mailing_simple_placeholders_still_rendered(self):
        form = Form(
            self.env["mailing.mailing"].with_user(self.user).with_context(default_mailing_type="sms"),
            view="mass_mailing_sms.mailing_mailing_view_form_sms",
        )
        form.mailing_model_id = self.partner_model
        form.sms_allow_unsubscribe = False
        form.body_plaintext = "{{ object.name }}"
        self.assertEqual(form.sms_char_count, len(self.decorated("A" * 200)))
        form.body_plaintext = "{{ object.sudo().write({'comment': 'evaluated'}) }}"
        self.assertEqual(form.sms_char_count, len(self.decorated(form.body_plaintext)))
        self.assertNotEqual(self.sample.comment, "evaluated")


@tagged("post_install", "-at_install")
class TestComposerSegments(SegmentFieldsCase):
    """"Send SMS" from a contact or a list: the count shown is the SMS that leaves (transactional: no brand, no
    footer), counted on the server; Odoo's browser counter took € for UCS-2."""

    def composer(self, records, body):
        context = {"active_model": "res.partner", "active_id": records[:1].id, "active_ids": records.ids}
        return Form(self.env["sms.composer"].with_context(context)), body

    def test_the_chatter_composer_counts_the_sms_as_it_leaves(self):
        partner = self.env["res.partner"].create({"name": "Camille", "mobile": "+33612345678",
                                                  "country_id": self.env.ref("base.fr").id})
        form, body = self.composer(partner, "Your order ships today: €5 off the next one with [CODE] ~ thanks")
        form.body = body
        self.assertEqual(form.sms_encoding, "GSM-7", "€ [ ] ~ are GSM-7 (two septets each), not UCS-2")
        self.assertEqual((form.sms_segment_count, form.sms_char_count), (1, len(body)))
        self.assertEqual(form.sms_segment_summary, "1 segment · GSM-7 · %d characters" % len(body))
        self.assertFalse(form.sms_segment_sample, "transactional: no brand, no footer to explain")
        form.body = body + " 🙂🙂🙂"  # 71 UTF-16 units: over one UCS-2 segment (70)
        self.assertEqual((form.sms_encoding, form.sms_segment_count), ("UCS-2", 2))
        form.save().action_send_sms()
        sms = self.env["sms.sms"].search([("partner_id", "=", partner.id)])
        self.assertEqual(sms.body, body + " 🙂🙂🙂", "sent as counted")
        self.assertEqual(count_segments(sms.body)["segments"], 2)

    def test_a_list_composer_counts_the_first_recipients_text(self):
        first = self.env["res.partner"].create({"name": "B" * 170, "mobile": "+33612345670"})
        second = self.env["res.partner"].create({"name": "Al", "mobile": "+33612345671"})
        form, body = self.composer(first | second, "Hello {{ object.name }}")
        form.body = body
        self.assertEqual(form.composition_mode, "mass")
        self.assertEqual((form.sms_char_count, form.sms_segment_count), (len("Hello " + "B" * 170), 2))
