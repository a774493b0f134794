"""Per-run set-up of the `make demo` database over JSON-RPC, once Odoo answers (run by scripts/demo.sh).

    demo_setup.py ODOO_URL DATABASE SIMULATOR_URL [PUBLIC_ODOO_URL]

1. the demo gateway account is pointed at the simulator; web.base.url at this Odoo (the links in the SMS), or at
   PUBLIC_ODOO_URL when the browser reaches it under another address (docker compose);
2. "Demo, any hour" compliance policies, on the demo database only: a copy of every policy, first in order,
   with sending hours 00:00-24:00 every day (the demo runs at any hour; consent, opt-outs, the frequency cap,
   the brand prefix and the STOP footer still apply); archive them to see quiet hours at work;
3. prints the demo carts and when their first reminder falls due.
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime

import requests

ADDON = "sms_marketing_addon"


def main(url: str, db: str, sim_url: str, public_url: str | None = None) -> int:
    session = requests.Session()
    counter = iter(range(1, 1_000_000))

    def rpc(service: str, method: str, *args: object) -> object:
        payload = {"jsonrpc": "2.0", "method": "call", "id": next(counter),
                   "params": {"service": service, "method": method, "args": list(args)}}
        answer = session.post(f"{url}/jsonrpc", json=payload, timeout=60).json()
        if answer.get("error"):
            data = answer["error"].get("data") or {}
            raise SystemExit(f"error: {service}.{method}: {data.get('message') or answer['error']}")
        return answer["result"]

    uid = rpc("common", "login", db, "admin", "admin")
    if not uid:
        raise SystemExit("error: cannot log in to Odoo as admin/admin")

    def call(model: str, method: str, *args: object, **kwargs: object) -> object:
        return rpc("object", "execute_kw", db, uid, "admin", model, method, list(args), kwargs)

    def ref(name: str) -> int:
        rows = call("ir.model.data", "search_read", [("module", "=", ADDON), ("name", "=", name)], ["res_id"])
        if not rows:
            raise SystemExit(f"error: {ADDON}.{name} not found: the addon's demo data is not loaded")
        return int(rows[0]["res_id"])

    call("sms.provider.account", "write", [ref("demo_provider_account_simulator")], {"base_url": sim_url})
    public_url = public_url or url
    call("ir.config_parameter", "set_param", "web.base.url", public_url)
    print(f"gateway account 'Provider simulator (Twilio dialect)' -> {sim_url}; web.base.url -> {public_url}")
    webhooks = os.environ.get("DEMO_WEBHOOK_BASE_URL")
    if webhooks:  # Settings > SMS Marketing: the accounts show the URLs the provider posts to
        call("ir.config_parameter", "set_param", "sms_marketing_addon.webhook_base_url", webhooks)

    if not call("sms.compliance.policy", "search_count", [("name", "=like", "Demo, any hour:%")]):
        days = ("day_mon", "day_tue", "day_wed", "day_thu", "day_fri", "day_sat", "day_sun")
        every_day = dict.fromkeys(days, True)
        for policy in call("sms.compliance.policy", "search_read", [], ["name"]):
            call("sms.compliance.policy", "copy", [policy["id"]], default={
                "name": f"Demo, any hour: {policy['name']}", "sequence": 0, "hour_start": 0.0,
                "hour_end": 24.0, "sunday_hours": False, **every_day,
            })
    print("compliance: 'Demo, any hour' policies first (sending hours 00:00-24:00, every day; "
          "archive them to see quiet hours at work)")

    # Lifecycle flows (post-purchase, browse abandonment): Odoo's scheduled action every minute instead of 5.
    call("ir.cron", "write", [ref("ir_cron_sms_flow_welcome")], {"interval_number": 1, "interval_type": "minutes"})
    [quotation] = call("sale.order", "read", [ref("demo_quotation_sam")], ["name"])
    print(f"lifecycle flows: confirm {quotation['name']} (Sam Taylor) for a post-purchase SMS 1 minute later; "
          "log in to the shop as lea / lea and view a product for a browse-abandonment SMS 1-2 minutes later")

    [step] = call("sms.flow.step", "search_read", [("flow_id", "=", ref("demo_sms_flow_cart_minutes"))],
                  ["delay_seconds"], order="delay_seconds", limit=1)
    for name in ("demo_cart_fr", "demo_cart_us"):
        [order] = call("sale.order", "read", [ref(name)], ["name", "partner_id", "write_date"])
        written = datetime.fromisoformat(order["write_date"]).replace(tzinfo=UTC)
        due = written.timestamp() + step["delay_seconds"] - datetime.now(UTC).timestamp()
        when = f"in {due:.0f} s" if due > 0 else "now"
        print(f"cart {order['name']} of {order['partner_id'][1]}: first reminder due {when}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) not in (4, 5):
        raise SystemExit(__doc__)
    raise SystemExit(main(*sys.argv[1:]))
