/** @odoo-module **/

import { registry } from "@web/core/registry";
import { emojisTextField } from "@mail/views/web/fields/emojis_text_field/emojis_text_field";

/**
 * The body of an SMS template, mailing or flow message: a text field with emojis and dynamic placeholders,
 * without Odoo's client-side counter (`sms_widget`), whose count ignores the brand, the opt-out footer, the
 * short links and the recipient's language. The server computes the one count shown beside it
 * (`sms_segment_summary`); the field sends each change to the server shortly after typing stops, so that
 * count follows the text as it is typed.
 */
export const smsMarketingBodyField = {
    ...emojisTextField,
    extractProps(fieldInfo, dynamicInfo) {
        return {
            ...emojisTextField.extractProps(fieldInfo, dynamicInfo),
            onchangeOnKeydown: true,
            keydownDebounceDelay: Number(fieldInfo.attrs.keydown_debounce_delay || 500),
        };
    },
};

registry.category("fields").add("sms_marketing_body", smsMarketingBodyField);
