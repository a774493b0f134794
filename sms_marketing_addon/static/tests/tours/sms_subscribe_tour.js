/** @odoo-module **/

import { registry } from "@web/core/registry";

/**
 * A visitor on /sms/subscribe first types an invalid number (the page shows the error and keeps
 * what was typed), then a French mobile, ticks the consent box and sees the "Reply YES" request.
 */
registry.category("web_tour.tours").add("sms_marketing_subscribe", {
    url: "/sms/subscribe",
    steps: () => [
        {
            content: "Choose France",
            trigger: "form.o_sms_subscribe_form select[name=country_id]",
            run: "selectByLabel France",
        },
        {
            content: "Type a name",
            trigger: "form.o_sms_subscribe_form input[name=name]",
            run: "edit Léa Tour",
        },
        {
            content: "Type something that is not a phone number",
            trigger: "form.o_sms_subscribe_form input[name=mobile]",
            run: "edit abcd",
        },
        {
            content: "Tick the consent box",
            trigger: "form.o_sms_subscribe_form input[name=consent]",
            run: "click",
        },
        {
            content: "Subscribe",
            trigger: "form.o_sms_subscribe_form button[type=submit]",
            run: "click",
        },
        {
            content: "The page shows the error next to the number",
            trigger: "form.o_sms_subscribe_form input[name=mobile].is-invalid + .invalid-feedback",
        },
        {
            content: "What was typed is kept",
            trigger: "form.o_sms_subscribe_form input[name=mobile]:value(abcd)",
        },
        {
            content: "The name is kept too",
            trigger: "form.o_sms_subscribe_form input[name=name]:value(Léa Tour)",
        },
        {
            content: "No confirmation request was shown",
            trigger: "body:not(:contains(reply YES))",
        },
        {
            content: "Fix the number: a French mobile",
            trigger: "form.o_sms_subscribe_form input[name=mobile]",
            run: "edit 06 12 98 76 54",
        },
        {
            content: "Tick the consent box again (the page was re-rendered)",
            trigger: "form.o_sms_subscribe_form input[name=consent]:not(:checked)",
            run: "click",
        },
        {
            content: "Subscribe",
            trigger: "form.o_sms_subscribe_form button[type=submit]",
            run: "click",
        },
        {
            content: "The visitor is asked to reply YES",
            trigger: ".o_sms_subscribe_done:contains(reply YES)",
        },
        {
            content: "... to a text sent to the number typed",
            trigger: ".o_sms_subscribe_done strong:contains(06 12 98 76 54)",
        },
    ],
});
