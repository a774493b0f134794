"""Screenshots of the main screens, taken from a running demo (`make demo`), for the README and docs.

    .venv/bin/pip install playwright        # once; it drives the machine's Chromium, nothing is downloaded
    .venv/bin/python scripts/screenshots.py [ODOO_URL] [DATABASE] [SYNC_URL]
    # defaults: http://127.0.0.1:8069 smsm_demo http://127.0.0.1:8080 (make demo's ports)

Writes docs/screenshots/*.png: the Outbox, Settings > SMS Marketing, a gateway account after
"Test connection", a contact's consent, the public subscribe page, the demo mailing's recipients with their
reason after "Check recipients", the mailing with its one segment count, the Send confirmation (not confirmed:
nothing is sent) and an SMS conversation in Discuss (a customer's reply posted to the sync service as the
provider posts it, signed, then answered from the composer). Each is taken as the demo's administrator
(admin/admin) sees it. The flow lift (flow_lift.png) needs an A/B flow with figures, which the demo has not:
it stays as taken from a test database.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, sync_playwright

from sync_service.simulator.server import ProviderSimulator

OUT = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
SCREENS = [
    ("outbox", "/odoo/action-sms_marketing_addon.sms_sms_action_outbox", ".o_list_view"),
    ("settings", "/odoo/settings#sms_marketing_addon", ".o_setting_container"),
]
MAILING = "Spring sale (demo)"
CUSTOMER = "Camille Martin"  # an opted-in French contact of the demo data
REPLY_IN = "Bonjour, avez-vous le manteau en bleu ?"
REPLY_OUT = "Oui, du S au L. Bonne journée !"


def login(page: Page, base: str, db: str) -> None:
    params = {"db": db, "login": "admin", "password": "admin"}
    answer = page.request.post(f"{base}/web/session/authenticate", data={"jsonrpc": "2.0", "params": params})
    if answer.status != 200 or "error" in answer.json():
        raise SystemExit(f"error: cannot log in to {base} ({db}) as admin/admin")


def call(page: Page, base: str, model: str, method: str, args: list[Any], **kwargs: Any) -> Any:
    answer = page.request.post(f"{base}/web/dataset/call_kw", data={"jsonrpc": "2.0", "params": {
        "model": model, "method": method, "args": args, "kwargs": kwargs}}).json()
    if "error" in answer:
        raise SystemExit(f"error: {model}.{method}: {answer['error'].get('data', {}).get('message')}")
    return answer["result"]


def first_record(page: Page, base: str, model: str, domain: list[object]) -> int:
    found = call(page, base, model, "search", [domain], limit=1)
    if not found:
        raise SystemExit(f"error: no {model} matching {domain}: is this the demo database?")
    return int(found[0])


def save(page: Page, name: str, full_page: bool = False) -> None:
    page.wait_for_timeout(1_500)  # fonts and the last renders
    page.screenshot(path=str(OUT / f"{name}.png"), full_page=full_page)
    print(f"docs/screenshots/{name}.png")


def shoot(page: Page, url: str, ready: str, name: str, full_page: bool = False) -> None:
    page.goto(url)
    page.wait_for_selector(ready, timeout=60_000)
    save(page, name, full_page)


def gateway_account(page: Page, base: str) -> None:
    """The Twilio account after "Test connection": the sync service calls the provider (the simulator)."""
    account = first_record(page, base, "sms.provider.account", [("provider", "=", "twilio")])
    page.goto(f"{base}/odoo/action-sms_marketing_addon.sms_provider_account_action/{account}")
    page.wait_for_selector(".o_form_view")
    page.click("button[name='action_test_connection']")
    for _ in range(60):  # the form reloads itself; the verdict comes from the sync service within seconds
        page.wait_for_timeout(1_000)
        state = call(page, base, "sms.provider.account", "read", [[account]], fields=["test_state"])[0]
        if state.get("test_state") in ("ok", "failed", "late"):
            break
    page.reload()
    page.wait_for_selector(".o_form_view")
    save(page, "gateway_account")


def mailing(page: Page, base: str) -> None:
    """The demo mailing: Check recipients and the recipients with their reason, its one segment count, then
    Send's confirmation, cancelled."""
    mailing_id = first_record(page, base, "mailing.mailing", [("subject", "=", MAILING)])
    form = f"{base}/odoo/action-mass_mailing_sms.mailing_mailing_action_sms/{mailing_id}"
    page.goto(form)
    page.wait_for_selector(".o_form_view .o_field_widget[name='body_plaintext']")
    page.click(".o_notebook_headers a[name='sms_compliance']")
    page.click("button[name='action_sms_check_recipients']")
    page.wait_for_selector(".o_sms_preview_counts button[name='action_sms_view_recipients']")
    page.wait_for_timeout(1_000)
    page.locator("tr[name='now'] button[name='action_sms_view_recipients']").click()
    page.wait_for_selector(".o_list_view .o_data_row")
    page.locator(".o_searchview_facet .o_facet_remove").first.click()  # every recipient, each with its reason
    page.wait_for_timeout(1_000)
    save(page, "checked_recipients")
    page.goto(form)
    page.wait_for_selector(".o_form_view .o_field_widget[name='body_plaintext']")
    page.wait_for_timeout(2_000)  # the count is asked from the server
    save(page, "mailing_segments")  # with "Recipients x segments", as last checked
    page.click("button[name='action_sms_send_confirm']")
    page.wait_for_selector(".modal .o_sms_send_summary")
    save(page, "send_confirmation")
    page.click(".modal footer button[special='cancel']")


def conversation(page: Page, base: str, sync: str) -> None:
    """A customer replies to our number (the provider's signed webhook, as the simulator posts it, to the sync
    service); the conversation opens in Discuss, where the administrator answers from the composer."""
    partner_id = first_record(page, base, "res.partner", [("name", "=like", f"{CUSTOMER}%")])
    # the provider posts the number in E.164, as Odoo keeps it sanitized
    [partner] = call(page, base, "res.partner", "read", [[partner_id]], fields=["phone_sanitized"])
    number = partner["phone_sanitized"]
    account_id = first_record(page, base, "sms.provider.account", [("provider", "=", "twilio")])
    [account] = call(page, base, "sms.provider.account", "read", [[account_id]],
                     fields=["sender", "account_sid"])
    with ProviderSimulator(port=0) as provider:
        delivery = provider.send_inbound("twilio", number, account["sender"], REPLY_IN,
                                         f"{sync}/webhooks/twilio/inbound", account_id=account["account_sid"])
    if delivery.status_code != 200:
        raise SystemExit(f"error: the sync service at {sync} answered {delivery.status_code} to the reply")
    channels: list[int] = []
    for _ in range(30):
        domain = [("channel_type", "=", "sms"), ("sms_partner_id", "=", partner_id)]
        channels = call(page, base, "discuss.channel", "search", [domain], limit=1)
        if channels:
            break
        page.wait_for_timeout(1_000)
    if not channels:
        raise SystemExit(f"error: no SMS conversation of {CUSTOMER} 30 s after its reply: is sms-sync up?")
    page.goto(f"{base}/odoo/discuss?active_id=discuss.channel_{channels[0]}")
    composer = page.wait_for_selector(".o-mail-Composer-input", timeout=60_000)
    page.wait_for_selector(f".o-mail-Message:has-text('{REPLY_IN}')")
    composer.fill(REPLY_OUT)
    composer.press("Enter")
    page.wait_for_selector(f".o-mail-Message:has-text('{REPLY_OUT}')")
    page.wait_for_timeout(5_000)  # the SMS notification follows the delivery receipt
    save(page, "sms_conversation")


def main(base: str = "http://127.0.0.1:8069", db: str = "smsm_demo", sync: str = "http://127.0.0.1:8080",
         ) -> int:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if not chromium:
        raise SystemExit("error: no Chromium on this machine (make setup installs it)")
    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        login(page, base, db)
        for name, path, ready in SCREENS:
            shoot(page, base + path, ready, name)
        gateway_account(page, base)
        contact = first_record(page, base, "res.partner", [("name", "=like", f"{CUSTOMER}%")])
        shoot(page, f"{base}/odoo/contacts/{contact}", ".o_form_view", "contact_consent")
        mailing(page, base)
        conversation(page, base, sync)
        visitor = browser.new_page(viewport={"width": 1200, "height": 900})
        shoot(visitor, f"{base}/sms/subscribe", "form.o_sms_subscribe_form", "subscribe_page")
        browser.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(*sys.argv[1:4]))
