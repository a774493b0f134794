from odoo.http import request, route

from odoo.addons.website_sale.controllers.main import WebsiteSale


class WebsiteSaleSmsFlow(WebsiteSale):
    """The cart recovery link of an SMS restores the cart at once when the visitor has no other cart (a phone
    opening the link usually has none); with another cart, Odoo's own choice (restore or merge) is shown."""

    @route()
    def cart(self, access_token=None, revive="", **post):
        if access_token and not revive:
            current = request.website.sale_get_order()
            if not current or not current.website_order_line or current.access_token == access_token:
                abandoned = request.env["sale.order"].sudo().search(
                    [("access_token", "=", access_token), ("website_id", "=", request.website.id)], limit=1)
                if abandoned and abandoned.state == "draft" and abandoned != current:
                    revive = "squash"
        return super().cart(access_token=access_token, revive=revive, **post)
