/** @odoo-module **/

import { registry } from "@web/core/registry";

/**
 * The contact's salesperson answers an SMS conversation in Discuss: the conversation sits in the "SMS" category
 * with its unread counter, shows the campaign SMS the customer replied to and the reply; the agent picks a canned
 * response (":"), sends it, and the message shows its SMS notification. Python checks the SMS is queued.
 */
registry.category("web_tour.tours").add("sms_marketing_conversation", {
    steps: () => [
        {
            content: "The SMS category lists the conversation, unread",
            trigger: ".o-sms-DiscussSidebarCategory-sms",
        },
        {
            content: "The conversation carries its unread counter",
            trigger: ".o-mail-DiscussSidebarChannel:contains(Tour Customer) .o-mail-DiscussSidebarChannel-badge:contains(1)",
        },
        {
            content: "Open it",
            trigger: ".o-mail-DiscussSidebarChannel:contains(Tour Customer)",
            run: "click",
        },
        {
            content: "The thread names the campaign SMS being answered",
            trigger: ".o-mail-Thread:contains(Replying to the SMS of campaign):contains(Tour sale)",
        },
        {
            content: "and shows the customer's reply",
            trigger: ".o-mail-Message-body:contains(Can I pick it up tomorrow?)",
        },
        {
            content: "The composer says where the reply goes",
            trigger: ".o-mail-Composer-input[placeholder='SMS to +33612121212…']",
        },
        {
            content: "Ask for a canned response",
            trigger: ".o-mail-Composer-input",
            run: "edit :tourh",
        },
        {
            content: "Pick the opening hours",
            trigger: ".o-mail-NavigableList-item:contains(tourhours)",
            run: "click",
        },
        {
            content: "The composer holds the canned text",
            trigger: ".o-mail-Composer-input:value(We are open 9:00 to 19:00, Monday to Saturday.)",
        },
        {
            content: "Send it",
            trigger: ".o-mail-Composer-send:enabled",
            run: "click",
        },
        {
            content: "The reply shows its SMS notification (delivery state)",
            trigger: ".o-mail-Message:contains(We are open 9:00 to 19:00) .o-mail-Message-notification .fa-mobile",
        },
    ],
});
