from . import controllers
from . import models
from . import wizard


def uninstall_hook(env):
    """Give Odoo's SMS Marketing > Reporting its action back (views/sms_marketing_menus.xml took it off to make
    it a folder for our reports); the groups we added to Odoo's menus go with our groups."""
    reporting = env.ref("mass_mailing_sms.mass_mailing_sms_menu_reporting", raise_if_not_found=False)
    action = env.ref("mass_mailing_sms.mailing_trace_report_action_sms", raise_if_not_found=False)
    if reporting and action and not reporting.action:
        reporting.action = action
