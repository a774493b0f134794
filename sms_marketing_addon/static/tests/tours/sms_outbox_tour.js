/** @odoo-module **/

import { registry } from "@web/core/registry";

/**
 * SMS Marketing ▸ Outbox as a manager: a held SMS shows why it waits (its gateway account is failing, in plain
 * words); "Retry now" puts it back in the queue and says so.
 */
registry.category("web_tour.tours").add("sms_marketing_outbox", {
    steps: () => [
        {
            content: "Open the apps menu",
            trigger: ".o_navbar_apps_menu button",
            run: "click",
        },
        {
            content: "Open the SMS Marketing app",
            trigger: ".dropdown-item.o_app[data-menu-xmlid='mass_mailing_sms.mass_mailing_sms_menu_root']",
            run: "click",
        },
        {
            content: "Open the Outbox",
            trigger: ".o_main_navbar a[data-menu-xmlid='sms_marketing_addon.sms_outbox_menu']",
            run: "click",
        },
        {
            content: "The held SMS says why it waits, in plain words",
            trigger: ".o_list_view .o_data_row:contains(+14155550177) td[name=sms_defer_reason]:contains(Twilio refused the credentials)",
        },
        {
            content: "It is held",
            trigger: ".o_list_view .o_data_row:contains(+14155550177) td[name=sms_outbox_status]:contains(Held)",
        },
        {
            content: "Select it",
            trigger: ".o_list_view .o_data_row:contains(+14155550177) .o_list_record_selector input",
            run: "click",
        },
        {
            content: "Retry now",
            trigger: ".o_list_view .o_control_panel_actions button[name=action_outbox_retry_now], .o_list_view button[name=action_outbox_retry_now]",
            run: "click",
        },
        {
            content: "The Outbox says what it did",
            trigger: ".o_notification:contains(back in the queue)",
        },
    ],
});
