from odoo import fields, models
from odoo.tools.translate import LazyTranslate

_lt = LazyTranslate(__name__)

# Built-in opt-out footer, used while a company has not written its own; translated at use time.
DEFAULT_OPTOUT_FOOTER = _lt("STOP SMS")


class ResCompany(models.Model):
    _inherit = "res.company"

    sms_optout_footer = fields.Char(
        string="SMS opt-out footer", translate=True,
        help="Appended to SMS sent from templates. Leave empty to use the built-in \"STOP SMS\" wording.",
    )
    sms_max_segments = fields.Integer(
        string="Maximum SMS segments", default=2,
        help="Templates and SMS mailings longer than this many segments show a warning. 0 disables it.",
    )

    def _sms_optout_footer(self, lang=None):
        """Opt-out footer appended to template SMS, in ``lang``: the company's text or the built-in one."""
        self.ensure_one()
        company = self.with_context(lang=lang) if lang else self
        return company.sms_optout_footer or company.env._(DEFAULT_OPTOUT_FOOTER)
