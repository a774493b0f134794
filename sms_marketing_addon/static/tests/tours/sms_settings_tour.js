/** @odoo-module **/

import { registry } from "@web/core/registry";

/**
 * Settings: searching "SMS" finds the SMS Marketing section and every setting of the suite.
 */
registry.category("web_tour.tours").add("sms_marketing_settings", {
    steps: () => [
        {
            content: "The settings are open",
            trigger: ".o_settings_container, .settings",
        },
        {
            content: "Search SMS",
            trigger: ".o_control_panel .o_searchview input",
            run: "edit SMS",
        },
        {
            content: "The brand and consent block is found",
            trigger: ".o_setting_box:contains(SMS brand name):not(.d-none)",
        },
        {
            content: "The consent text, double opt-in and HELP contact are found",
            trigger: ".o_setting_box:contains(SMS double opt-in)",
        },
        {
            content: "Checkout consent is found",
            trigger: ".o_setting_box:contains(SMS consent at checkout)",
        },
        {
            content: "The subscribe page limits are found",
            trigger: ".o_setting_box:contains(SMS subscriptions per IP and hour)",
        },
        {
            content: "The webhook public URL is found",
            trigger: ".o_setting_box:contains(SMS webhook public URL)",
        },
    ],
});
