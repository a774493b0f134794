/** @odoo-module **/

import { registry } from "@web/core/registry";
import * as tourUtils from "@website_sale/js/tours/tour_utils";

/**
 * A visitor buys a product and ticks the optional SMS consent box of the checkout address form.
 * The Python side checks the new customer is pending double opt-in, from the checkout.
 */
registry.category("web_tour.tours").add("sms_marketing_checkout_consent", {
    steps: () => [
        {
            content: "Add the product to the cart",
            trigger: "#product_detail #add_to_cart",
            run: "click",
        },
        tourUtils.goToCart(),
        tourUtils.goToCheckout(),
        {
            content: "The address form shows the SMS consent box, unticked",
            trigger: "form.checkout_autoformat input[name=sms_marketing_consent]:not(:checked)",
        },
        {
            content: "The box carries the consent wording",
            trigger: "form.checkout_autoformat #div_sms_marketing_consent label:contains(SMS)",
        },
        {
            content: "Choose France",
            trigger: "form.checkout_autoformat select[name=country_id]",
            run: "selectByLabel France",
        },
        ...[
            ["name", "Jeanne Tour"],
            ["email", "jeanne.tour@example.com"],
            ["phone", "06 44 55 66 78"],
            ["street", "1 rue de la Paix"],
            ["city", "Paris"],
            ["zip", "75002"],
        ].map(([name, value]) => ({
            content: `Fill in ${name}`,
            trigger: `form.checkout_autoformat input[name=${name}]`,
            run: `edit ${value}`,
        })),
        {
            content: "Tick the SMS consent box",
            trigger: "form.checkout_autoformat input[name=sms_marketing_consent]",
            run: "click",
        },
        {
            trigger: "form.checkout_autoformat input[name=sms_marketing_consent]:checked",
        },
        {
            content: "Continue checkout",
            trigger: "#save_address",
            run: "click",
        },
        {
            content: "The address is accepted: the checkout goes on past the address form",
            trigger: "#shop_checkout:contains(1 rue de la Paix), #address_on_payment:contains(1 rue de la Paix)",
        },
    ],
});
