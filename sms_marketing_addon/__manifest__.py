{
    "name": "SMS Marketing Suite",
    "summary": "Consent with proof, opt-out register, compliant SMS campaigns and abandoned-cart flows "
    "through any SMS provider",
    "version": "18.0.1.0.0",
    "category": "Marketing/SMS Marketing",
    "website": "https://github.com/sms-marketing-suite/sms-marketing-suite",
    "author": "SMS Marketing Suite contributors",
    "license": "LGPL-3",
    "depends": ["sms", "phone_validation", "mass_mailing_sms", "website_sale"],
    "external_dependencies": {"python": ["phonenumbers"]},
    "data": [
        "security/sms_marketing_security.xml",
        "security/ir.model.access.csv",
        "data/ir_cron_data.xml",
        "wizard/sms_consent_wizard_views.xml",
        "views/res_partner_views.xml",
        "views/sms_consent_log_views.xml",
        "views/res_company_views.xml",
        "views/website_templates.xml",
    ],
    "installable": True,
    "application": False,
}
