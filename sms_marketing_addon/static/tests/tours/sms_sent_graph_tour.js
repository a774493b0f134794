/** @odoo-module **/

import { registry } from "@web/core/registry";

const STAT_BUTTON = "button.oe_stat_button[name=action_view_sms_sent]";

/**
 * From a sent SMS mailing, the "Segments" stat button opens the graph of the SMS handed to the
 * gateways for that mailing; the chart is drawn.
 */
registry.category("web_tour.tours").add("sms_marketing_sent_graph", {
    steps: () => [
        {
            content: "Open the Compliance page of the sent mailing",
            trigger: ".o_form_view .o_notebook a.nav-link:contains(Compliance)",
            run: "click",
        },
        {
            content: "It shows the cost in segments of what was sent",
            trigger: ".o_form_view .o_notebook .tab-pane.active .o_field_widget[name=sms_segments_total]:contains(6)",
        },
        {
            content: "Show the stat buttons that do not fit (\"More\"), when there are too many",
            trigger: ".o_form_view .o-form-buttonbox",
            async run(helpers) {
                if (!document.querySelector(STAT_BUTTON)) {
                    await helpers.click(".o_form_view .o-form-buttonbox .o_button_more");
                }
            },
        },
        {
            content: "The Segments stat button shows the same total",
            trigger: `${STAT_BUTTON}:contains(Segments):contains(6)`,
        },
        {
            content: "Open the sent SMS statistics",
            trigger: STAT_BUTTON,
            run: "click",
        },
        {
            content: "The graph view is open, grouped by day",
            trigger: ".o_graph_view .o_searchview .o_facet_value:contains(Day)",
        },
        {
            content: "The chart is drawn",
            trigger: ".o_graph_view .o_graph_renderer .o_graph_canvas_container canvas",
        },
        {
            content: "Bar chart, as the view declares",
            trigger: ".o_graph_view .o_graph_renderer button.active[data-mode=bar]",
        },
    ],
});
