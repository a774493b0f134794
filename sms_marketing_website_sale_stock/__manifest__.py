{
    "name": "SMS Marketing Suite: back in stock flows",
    "summary": "Bridge: the 'back in stock' flow trigger (an SMS instead of Odoo's e-mail to contacts who asked to "
    "be told), installed by itself with website_sale_stock",
    "version": "18.0.1.0.0",
    "category": "Marketing/SMS Marketing",
    "website": "https://github.com/sms-marketing-suite/sms-marketing-suite",
    "author": "SMS Marketing Suite contributors",
    "license": "LGPL-3",
    "depends": ["sms_marketing_addon", "website_sale_stock"],
    "data": [
        "data/sms_flow_trigger_data.xml",
        "data/sms_flow_data.xml",
    ],
    "installable": True,
    "auto_install": True,
}
