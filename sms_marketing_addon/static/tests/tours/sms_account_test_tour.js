/** @odoo-module **/

import { registry } from "@web/core/registry";

/**
 * A gateway account as a system administrator: the last test's verdict in plain words (a wrong Twilio token),
 * "Test connection" shows "testing…" until the sync service answers, "Send a test SMS" asks for a number and
 * refuses one that is no number, in words.
 */
registry.category("web_tour.tours").add("sms_marketing_account_test", {
    steps: () => [
        {
            content: "The last test failed, in plain words",
            trigger: ".o_form_view .o_sms_test_failed:contains(Twilio refused the credentials: check the Account SID and the Auth Token (20003))",
        },
        {
            content: "The account's health says its SMS are held, and why",
            trigger: ".o_form_view .alert-danger:contains(This account is failing):contains(Twilio refused the credentials)",
        },
        {
            content: "Test connection",
            trigger: ".o_form_view button.o_sms_test_connection",
            run: "click",
        },
        {
            content: "Testing… until the sync service answers",
            trigger: ".o_form_view .o_sms_test_waiting:contains(testing…):contains(next poll)",
        },
        {
            content: "Send a test SMS",
            trigger: ".o_form_view button.o_sms_send_test",
            run: "click",
        },
        {
            content: "Type something that is no number",
            trigger: ".modal .o_field_widget[name=number] input",
            run: "edit 12ab",
        },
        {
            content: "Send",
            trigger: ".modal .modal-footer button[name=action_send]",
            run: "click",
        },
        {
            content: "The error says what to type",
            trigger: ".modal .o_error_dialog:contains(12ab is not a phone number), .modal:contains(12ab is not a phone number)",
        },
        {
            content: "Close the error",
            trigger: ".modal:contains(12ab is not a phone number) .modal-footer .btn-primary",
            run: "click",
        },
        {
            content: "Type a number",
            trigger: ".modal .o_field_widget[name=number] input",
            run: "edit +1 415 555 0188",
        },
        {
            content: "Send",
            trigger: ".modal .modal-footer button[name=action_send]",
            run: "click",
        },
        {
            content: "The test SMS is queued through this account",
            trigger: ".o_notification:contains(queued through Twilio (tour))",
        },
        {
            content: "The account waits for the result",
            trigger: ".o_form_view .o_sms_test_waiting:contains(Test SMS)",
        },
    ],
});
