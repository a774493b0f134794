from odoo import models


class ResLang(models.Model):
    _inherit = "res.lang"

    def _activate_lang(self, code):
        """A French language activated after the install gets the French texts of the default flows."""
        lang = super()._activate_lang(code)
        if code and code.startswith("fr_") and "sms.flow" in self.env:
            self.env["sms.flow"].sudo()._sms_flow_load_french_texts([code])
        return lang
