/** SMS conversations (discuss.channel of type "sms") get their own category in Discuss's sidebar, as Live Chat
 * conversations do; everything else (unread counters, notifications, composer, canned responses) is Discuss's. */
import { DiscussApp } from "@mail/core/public_web/discuss_app_model";
import { Record } from "@mail/core/common/record";
import { Thread } from "@mail/core/common/thread_model";
import { _t } from "@web/core/l10n/translation";
import { patch } from "@web/core/utils/patch";

patch(DiscussApp.prototype, {
    setup(env) {
        super.setup(env);
        this.smsConversations = Record.one("DiscussAppCategory", {
            compute() {
                return {
                    extraClass: "o-sms-DiscussSidebarCategory-sms",
                    icon: "fa fa-mobile",
                    hideWhenEmpty: true,
                    id: "sms_marketing_addon.category_sms",
                    name: _t("SMS"),
                    sequence: 22,
                };
            },
        });
    },
});

patch(Thread.prototype, {
    _computeDiscussAppCategory() {
        if (this.channel_type === "sms") {
            return this.store.discuss.smsConversations;
        }
        return super._computeDiscussAppCategory();
    },
    /** A conversation with one person: unread counters count every message, as in chats and Live Chat. */
    get isChatChannel() {
        return this.channel_type === "sms" || super.isChatChannel;
    },
});
