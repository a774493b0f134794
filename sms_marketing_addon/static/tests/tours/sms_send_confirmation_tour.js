/** @odoo-module **/

import { registry } from "@web/core/registry";

const COUNTS = ".o_form_view .o_sms_preview_counts";

/**
 * The send decision of an SMS mailing: check the recipients, open those without consent (with their reason),
 * come back, press Send and read what will happen (now, excluded) before confirming.
 */
registry.category("web_tour.tours").add("sms_marketing_send_confirmation", {
    steps: () => [
        {
            content: "Open the Compliance page of the draft mailing",
            trigger: ".o_form_view .o_notebook a.nav-link:contains(Compliance)",
            run: "click",
        },
        {
            content: "Check the recipients",
            trigger: ".o_form_view button[name=action_sms_check_recipients]",
            run: "click",
        },
        {
            content: "One recipient goes now",
            trigger: `${COUNTS} tr[name=now] button[name=action_sms_view_recipients]:contains(1)`,
        },
        {
            content: "Open the recipient without consent",
            trigger: `${COUNTS} tr[name=no_consent] button[name=action_sms_view_recipients]:contains(1)`,
            run: "click",
        },
        {
            content: "The list is filtered by that reason",
            trigger: ".o_list_view .o_searchview .o_facet_value:contains(No consent)",
        },
        {
            content: "It shows who, and why",
            trigger: ".o_list_view .o_data_row:contains(Never asked):contains(No consent)",
        },
        {
            content: "Back to the mailing",
            trigger: ".o_breadcrumb .breadcrumb-item a:contains(Send decision tour)",
            run: "click",
        },
        {
            content: "Send",
            trigger: ".o_form_view .o_form_statusbar button[name=action_sms_send_confirm]",
            run: "click",
        },
        {
            content: "The confirmation says who goes now",
            trigger: ".modal .o_sms_send_summary li[name=now]:contains(1):contains(go now)",
        },
        {
            content: "... and who is excluded, and why",
            trigger: ".modal .o_sms_send_summary li[name=excluded]:contains(1 without consent)",
        },
        {
            content: "... and the estimated cost",
            trigger: ".modal .o_sms_send_summary li[name=cost]:contains(segments)",
        },
        {
            content: "Confirm",
            trigger: ".modal footer button[name=action_send]:contains(Send)",
            run: "click",
        },
        {
            content: "The mailing is queued",
            trigger: ".o_form_view .o_statusbar_status .o_arrow_button_current:contains(In Queue)",
        },
    ],
});
