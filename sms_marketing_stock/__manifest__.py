{
    "name": "SMS Marketing Suite: order delivered flows",
    "summary": "Bridge: the 'order delivered' flow trigger (post-purchase SMS once the order is delivered), "
    "installed by itself where the shop has stock",
    "version": "18.0.1.0.0",
    "category": "Marketing/SMS Marketing",
    "website": "https://github.com/sms-marketing-suite/sms-marketing-suite",
    "author": "SMS Marketing Suite contributors",
    "license": "LGPL-3",
    "depends": ["sms_marketing_addon", "sale_stock"],
    "data": [
        "data/sms_flow_trigger_data.xml",
        "data/sms_flow_data.xml",
    ],
    "installable": True,
    "auto_install": True,
}
