from odoo.http import request


def request_proof():
    """IP address and user agent of the current request, as proof of consent (strings only)."""
    httprequest = request.httprequest
    ip = httprequest.remote_addr
    agent = getattr(getattr(httprequest, "user_agent", None), "string", None)
    return {
        "ip_address": ip if isinstance(ip, str) else False,
        "user_agent": agent[:512] if isinstance(agent, str) and agent else False,
    }
