"""Screenshots of the main screens, taken from a running demo (`make demo`), for the README and docs.

    .venv/bin/pip install playwright        # once; it drives the machine's Chromium, nothing is downloaded
    .venv/bin/python scripts/screenshots.py [ODOO_URL] [DATABASE]   # http://127.0.0.1:8069 smsm_demo

Writes docs/screenshots/*.png: the Outbox, a gateway account, Settings > SMS Marketing, a contact's consent,
the public subscribe page. Each is taken as the demo's administrator (admin/admin) sees it.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

OUT = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
SCREENS = [
    ("outbox", "/odoo/action-sms_marketing_addon.sms_sms_action_outbox", ".o_list_view"),
    ("settings", "/odoo/settings#sms_marketing_addon", ".o_setting_container"),
]


def login(page: Page, base: str, db: str) -> None:
    params = {"db": db, "login": "admin", "password": "admin"}
    answer = page.request.post(f"{base}/web/session/authenticate", data={"jsonrpc": "2.0", "params": params})
    if answer.status != 200 or "error" in answer.json():
        raise SystemExit(f"error: cannot log in to {base} ({db}) as admin/admin")


def first_record(page: Page, base: str, model: str, domain: list[object]) -> int:
    answer = page.request.post(f"{base}/web/dataset/call_kw", data={"jsonrpc": "2.0", "params": {
        "model": model, "method": "search", "args": [domain], "kwargs": {"limit": 1}}}).json()
    if not answer.get("result"):
        raise SystemExit(f"error: no {model} matching {domain}: is this the demo database?")
    return int(answer["result"][0])


def shoot(page: Page, url: str, ready: str, name: str, full_page: bool = False) -> None:
    page.goto(url)
    page.wait_for_selector(ready, timeout=60_000)
    page.wait_for_timeout(1_500)  # fonts and the last renders
    page.screenshot(path=str(OUT / f"{name}.png"), full_page=full_page)
    print(f"docs/screenshots/{name}.png")


def main(base: str = "http://127.0.0.1:8069", db: str = "smsm_demo") -> int:
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
        account = first_record(page, base, "sms.provider.account", [("provider", "=", "twilio")])
        accounts = f"{base}/odoo/action-sms_marketing_addon.sms_provider_account_action"
        shoot(page, f"{accounts}/{account}", ".o_form_view", "gateway_account")
        contact = first_record(page, base, "res.partner", [("name", "=like", "Camille Martin%")])
        shoot(page, f"{base}/odoo/contacts/{contact}", ".o_form_view", "contact_consent")
        visitor = browser.new_page(viewport={"width": 1200, "height": 900})
        shoot(visitor, f"{base}/sms/subscribe", "form.o_sms_subscribe_form", "subscribe_page")
        browser.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(*sys.argv[1:3]))
