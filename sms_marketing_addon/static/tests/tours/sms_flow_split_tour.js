/** @odoo-module **/

import { registry } from "@web/core/registry";
import { stepUtils } from "@web_tour/tour_service/tour_utils";

const ROW = ".o_form_view div[name=step_ids] .o_data_row.o_selected_row";

/** Pick `name` in the many2one field `field` of the step being edited. */
function pickInRow(field, name) {
    return [
        {
            content: `${field}: ${name}`,
            trigger: `${ROW} div[name=${field}] input`,
            run: `edit ${name}`,
        },
        {
            trigger: `.o-autocomplete--dropdown-menu .dropdown-item:contains(${name})`,
            run: "click",
        },
        {
            trigger: `${ROW} div[name=${field}] input:value(${name})`,
        },
    ];
}

function addStep(position) {
    return [
        {
            content: `Add step ${position}`,
            trigger: ".o_form_view div[name=step_ids] .o_field_x2many_list_row_add a",
            run: "click",
        },
        {
            trigger: `.o_form_view div[name=step_ids] .o_data_row:nth-child(${position}).o_selected_row`,
        },
    ];
}

/**
 * An SMS Marketing manager builds a post-purchase flow in SMS Marketing ▸ Flows: a thank-you SMS, then an A/B
 * split with a 10 % holdout and 50 % to branch A, then an offer sent to branch A only; and saves it.
 */
registry.category("web_tour.tours").add("sms_marketing_flow_split", {
    url: "/odoo",
    steps: () => [
        stepUtils.showAppsMenuItem(),
        {
            content: "Open the SMS Marketing app",
            trigger: '.o_app[data-menu-xmlid="mass_mailing_sms.mass_mailing_sms_menu_root"]',
            run: "click",
        },
        {
            content: "Open the Flows menu",
            trigger: ".o_main_navbar [data-menu-xmlid='sms_marketing_addon.sms_flow_menu_root']",
            run: "click",
        },
        {
            content: "Open Flows",
            trigger: ".dropdown-item[data-menu-xmlid='sms_marketing_addon.sms_flow_menu']",
            run: "click",
        },
        {
            content: "The list of flows is open",
            trigger: ".o_control_panel .o_breadcrumb:contains(SMS Flows)",
        },
        {
            content: "Create a flow",
            trigger: ".o_control_panel .o_list_button_add",
            run: "click",
        },
        {
            content: "Name it",
            trigger: ".o_form_view div[name=name] input",
            run: "edit Post-purchase split tour",
        },
        {
            content: "Trigger: order confirmed (post-purchase)",
            trigger: ".o_form_view div[name=trigger] select",
            run: 'select "order_confirmed"',
        },
        {
            content: "The steps now offer splits and branches",
            trigger: ".o_form_view div[name=step_ids] th[data-name=split_holdout_percent]",
        },
        // Step 1: the thank-you SMS, 1 hour after the order (the default delay).
        ...addStep(1),
        ...pickInRow("template_id", "Tour thank you"),
        // Step 2: the split, 1 day after the order.
        ...addStep(2),
        {
            content: "Step 2 is an A/B split",
            trigger: `${ROW} div[name=step_type] select`,
            run: 'select "split"',
        },
        {
            content: "Delay: 1 day",
            trigger: `${ROW} div[name=delay_unit] select`,
            run: 'select "days"',
        },
        {
            content: "Holdout: 10 %",
            trigger: `${ROW} div[name=split_holdout_percent] input`,
            run: "edit 10",
        },
        {
            content: "Branch A: 50 % of the rest",
            trigger: `${ROW} div[name=split_a_percent] input`,
            run: "edit 50",
        },
        // Step 3: an offer for branch A only, 3 days after the order.
        ...addStep(3),
        {
            content: "Delay: 3",
            trigger: `${ROW} div[name=delay] input`,
            run: "edit 3",
        },
        {
            content: "… days",
            trigger: `${ROW} div[name=delay_unit] select`,
            run: 'select "days"',
        },
        {
            content: "Only branch A",
            trigger: `${ROW} div[name=branch] select`,
            run: 'select "a"',
        },
        ...pickInRow("template_id", "Tour branch A offer"),
        ...stepUtils.saveForm(),
        {
            content: "Saved with its three steps",
            trigger: ".o_form_view div[name=step_ids] .o_data_row:nth-child(3):not(.o_selected_row)",
        },
        {
            content: "The split row shows its holdout",
            trigger: ".o_form_view div[name=step_ids] .o_data_row:nth-child(2) td[name=split_holdout_percent]:contains(10.00)",
        },
        // The figures speak of contacts and conversions, not of carts (the words of the abandoned-cart flows).
        {
            content: "The flow counts the contacts who entered it",
            trigger: ".o_form_view .o-form-buttonbox .o_stat_text:contains(Entered)",
        },
        {
            content: "… and the orders converted; nothing says carts or recovered",
            trigger: ".o_form_view .o-form-buttonbox:not(:has(.o_stat_text:contains(Carts))):not(:has(.o_stat_text:contains(Recovered))) .o_stat_text:contains(Converted)",
        },
        {
            content: "The steps' column says converted too",
            trigger: ".o_form_view div[name=step_ids] th[data-name=recovered]:contains(Converted)",
        },
        {
            content: "Open the statistics",
            trigger: ".o_form_view .o_notebook .nav-link:contains(Statistics)",
            run: "click",
        },
        {
            content: "Entered, converted and revenue; no cart, no recovered revenue",
            trigger: ".o_form_view .o_notebook .tab-pane.active:not(:has(label:contains(Carts))):not(:has(label:contains(Recovered))) label:contains(Converted)",
        },
        {
            trigger: ".o_form_view .o_notebook .tab-pane.active label:contains(Entered)",
        },
        {
            trigger: ".o_form_view .o_notebook .tab-pane.active label:contains(Revenue)",
        },
    ],
});

/**
 * The abandoned-cart flow keeps the words of carts: carts entered, carts recovered, recovered revenue (opened
 * on its form).
 */
registry.category("web_tour.tours").add("sms_marketing_flow_cart_words", {
    steps: () => [
        {
            content: "The cart flow counts carts",
            trigger: ".o_form_view .o-form-buttonbox .o_stat_text:contains(Carts)",
        },
        {
            content: "… and the carts recovered; not entered, not converted",
            trigger: ".o_form_view .o-form-buttonbox:not(:has(.o_stat_text:contains(Entered))):not(:has(.o_stat_text:contains(Converted))) .o_stat_text:contains(Recovered)",
        },
        {
            content: "The steps' column says recovered",
            trigger: ".o_form_view div[name=step_ids] th[data-name=recovered]:contains(Recovered)",
        },
        {
            content: "Open the statistics",
            trigger: ".o_form_view .o_notebook .nav-link:contains(Statistics)",
            run: "click",
        },
        {
            content: "Carts, recovered and recovered revenue",
            trigger: ".o_form_view .o_notebook .tab-pane.active:not(:has(label:contains(Converted))):not(:has(label:contains(Entered))) label:contains(Recovered revenue)",
        },
        {
            trigger: ".o_form_view .o_notebook .tab-pane.active label:contains(Carts)",
        },
    ],
});
