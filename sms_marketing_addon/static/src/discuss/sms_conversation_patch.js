/** SMS conversations (discuss.channel of type "sms") get their own category in Discuss's sidebar, as Live Chat
 * conversations do; everything else (unread counters, notifications, composer, canned responses) is Discuss's. */
import { Composer } from "@mail/core/common/composer";
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
    setup() {
        super.setup(...arguments);
        /** @type {string} the customer's number (SMS conversations) */
        this.sms_number;
        /** @type {boolean} the number opted out: no reply can be sent */
        this.sms_opted_out;
    },
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

patch(Composer.prototype, {
    /** The composer of an SMS conversation says where the reply goes, or that none can go (opted out). */
    get placeholder() {
        const thread = this.thread;
        if (!this.props.placeholder && thread?.channel_type === "sms") {
            if (thread.sms_opted_out) {
                return _t("%(number)s opted out (STOP): no reply can be sent until they text START", {
                    number: thread.sms_number,
                });
            }
            return _t("SMS to %(number)s…", { number: thread.sms_number });
        }
        return super.placeholder;
    },
});
