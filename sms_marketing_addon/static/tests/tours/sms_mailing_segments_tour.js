/** @odoo-module **/

import { registry } from "@web/core/registry";
import { stepUtils } from "@web_tour/tour_service/tour_utils";

const SHORT_BODY = "Spring sale: 20% off everything this weekend!";
// 200 GSM-7 characters: more than one 160-character segment, less than two (306).
const LONG_BODY = ("Spring sale: 20% off everything this weekend in all our shops. ".repeat(4)).slice(0, 200);

const SUMMARY = ".o_form_view div[name=sms_segment_info] .o_field_widget[name=sms_segment_summary]";

/**
 * A marketing user writes an SMS mailing and watches the live segment counter: 1 segment for a
 * short body, 2 segments once the body is longer than 160 GSM-7 characters, before saving.
 */
registry.category("web_tour.tours").add("sms_marketing_mailing_segments", {
    url: "/odoo",
    steps: () => [
        stepUtils.showAppsMenuItem(),
        {
            content: "Open the SMS Marketing app",
            trigger: '.o_app[data-menu-xmlid="mass_mailing_sms.mass_mailing_sms_menu_root"]',
            run: "click",
        },
        {
            content: "Create an SMS mailing",
            trigger: ".o_control_panel .o_list_button_add, .o_control_panel .o-kanban-button-new",
            run: "click",
        },
        {
            content: "Title",
            trigger: ".o_form_view div[name=sms_subject] input",
            run: "edit Spring sale tour",
        },
        {
            content: "Recipients: a mailing list",
            trigger: ".o_form_view div[name=contact_list_ids] input",
            run: "edit SMS Tour List",
        },
        {
            trigger: ".o-autocomplete--dropdown-menu .dropdown-item:contains(SMS Tour List)",
            run: "click",
        },
        {
            trigger: ".o_form_view div[name=contact_list_ids] .o_tag:contains(SMS Tour List)",
        },
        {
            content: "Type a short body, then leave the field",
            trigger: ".o_form_view div[name=body_plaintext] textarea",
            run: `edit ${SHORT_BODY} && click .o_form_view div[name=sms_subject] input`,
        },
        {
            content: "The counter says 1 segment",
            trigger: `${SUMMARY}:contains(/\\b1 segment · GSM-7 · \\d+ characters/)`,
        },
        {
            content: "Type a body longer than 160 characters, then leave the field",
            trigger: ".o_form_view div[name=body_plaintext] textarea",
            run: `edit ${LONG_BODY} && click .o_form_view div[name=sms_subject] input`,
        },
        {
            content: "The counter now says 2 segments",
            trigger: `${SUMMARY}:contains(/\\b2 segments · GSM-7 · \\d+ characters/)`,
        },
        ...stepUtils.saveForm(),
        {
            content: "Still 2 segments once saved",
            trigger: `${SUMMARY}:contains(/\\b2 segments ·/)`,
        },
    ],
});
