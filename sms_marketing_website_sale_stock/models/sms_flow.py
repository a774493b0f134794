from odoo import api, models

# French texts of this bridge's trigger, template and preset flow (as sms_marketing_addon's FRENCH_TEXTS).
FRENCH_TEXTS = {
    "sms_template_back_in_stock": (
        "body",
        "Good news: {{ object.display_name }} is back in stock! Order it here: {{ object.sms_flow_link }}",
        "Bonne nouvelle : {{ object.display_name }} est de nouveau en stock ! Commandez-le ici : "
        "{{ object.sms_flow_link }}",
    ),
    "sms_flow_back_in_stock": ("name", "Back in stock", "De retour en stock"),
    "sms_flow_trigger_back_in_stock": [
        ("name", "Back in stock (notify me)", "De retour en stock (me prévenir)"),
        ("entry", "A product a contact asked to be told about (\"notify me\" on the shop) is available again; "
         "contacts without SMS consent get Odoo's e-mail instead.",
         "Un produit dont un contact a demandé à être prévenu (« me prévenir » sur la boutique) est de nouveau "
         "disponible ; les contacts sans consentement SMS reçoivent l'e-mail d'Odoo à la place."),
    ],
}


class SmsFlow(models.Model):
    _inherit = "sms.flow"

    @api.model
    def _sms_flow_load_french_texts(self, langs=None):
        super()._sms_flow_load_french_texts(langs)
        self._sms_flow_apply_french_texts("sms_marketing_website_sale_stock", FRENCH_TEXTS, langs)
