from odoo import api, models

# French texts of this bridge's trigger, template and preset flow (as sms_marketing_addon's FRENCH_TEXTS).
FRENCH_TEXTS = {
    "sms_template_order_delivered_review": (
        "body",
        "Your order {{ object.name }} has been delivered. How do you like it? Tell us: {{ object.sms_flow_link }}",
        "Votre commande {{ object.name }} a été livrée. Vous plaît-elle ? Donnez-nous votre avis : "
        "{{ object.sms_flow_link }}",
    ),
    "sms_flow_order_delivered": ("name", "Order delivered: review request", "Commande livrée : demande d'avis"),
    "sms_flow_trigger_order_delivered": [
        ("name", "Order delivered (post-purchase)", "Commande livrée (après l'achat)"),
        ("entry", "Every delivery of a confirmed sales order to the customer is done (once per order; with "
         "backorders, when the last one is delivered).",
         "Toutes les livraisons au client d'une commande confirmée sont faites (une fois par commande ; avec des "
         "reliquats, à la livraison du dernier)."),
    ],
}


class SmsFlow(models.Model):
    _inherit = "sms.flow"

    @api.model
    def _sms_flow_load_french_texts(self, langs=None):
        super()._sms_flow_load_french_texts(langs)
        self._sms_flow_apply_french_texts("sms_marketing_stock", FRENCH_TEXTS, langs)
