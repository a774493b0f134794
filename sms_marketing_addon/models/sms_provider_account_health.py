import hashlib
from datetime import timedelta

from odoo import api, fields, models

# How often a success is written (a busy account answers thousands of times a minute: one write is enough).
SUCCESS_WRITE_INTERVAL = timedelta(seconds=60)
ERROR_WINDOW = timedelta(hours=1)
# After this many minutes of failing, an account's queued SMS move to the next account serving their destination.
FAILOVER_PARAM = "sms_marketing_addon.failover_after_minutes"
FAILOVER_DEFAULT_MINUTES = 15
# The settings that decide whether an account can send: changing any of them ends a "failing" state.
VERSIONED_FIELDS = ("provider", "base_url", "account_sid", "auth_token", "sender", "messaging_service_sid",
                    "test_mode")


class SmsProviderAccountHealth(models.Model):
    """How a gateway account is doing, as the sync service sees it: last success, last error, errors in the
    last hour, and whether the account is failing (its provider refuses the account itself: bad credentials,
    suspended, no credit, sender not allowed). SMS routed to a failing account are held, not failed.

    Written only by the sync service's report methods (with sudo); readable by SMS marketing users, writable
    by nobody else (separate from the account so that the account's own write rights do not reach it)."""

    _name = "sms.provider.account.health"
    _description = "SMS Gateway Account Health"
    _rec_name = "account_id"

    account_id = fields.Many2one("sms.provider.account", required=True, ondelete="cascade", index=True,
                                 readonly=True)
    last_success = fields.Datetime(readonly=True)
    last_error = fields.Char(readonly=True)
    last_error_date = fields.Datetime(readonly=True)
    failing_since = fields.Datetime(readonly=True)
    failing_reason = fields.Char(readonly=True)
    failing_version = fields.Char(readonly=True, help="The account settings the failure was seen with.")
    error_window_start = fields.Datetime(readonly=True)
    error_window_count = fields.Integer(readonly=True)

    _sql_constraints = [("account_unique", "unique(account_id)", "One health record per gateway account.")]

    @api.model
    def _of(self, accounts):
        """The health rows of `accounts` (sudo), created when missing."""
        Health = self.sudo()
        rows = Health.search([("account_id", "in", accounts.ids)])
        missing = accounts - rows.account_id
        if missing:
            rows |= Health.create([{"account_id": account.id} for account in missing])
        return rows

    def _record_success(self, now):
        stale = self.filtered(lambda h: h.failing_since or not h.last_success
                              or h.last_success < now - SUCCESS_WRITE_INTERVAL)
        if stale:
            stale.write({"last_success": now, "failing_since": False, "failing_reason": False,
                         "failing_version": False})

    def _record_error(self, now, reason, *, failing_version=None):
        """One provider error; `failing_version`: the account itself is refused (for these settings)."""
        for health in self:
            vals = {"last_error": reason, "last_error_date": now}
            if health.error_window_start and health.error_window_start > now - ERROR_WINDOW:
                vals["error_window_count"] = health.error_window_count + 1
            else:
                vals.update(error_window_start=now, error_window_count=1)
            if failing_version:
                vals.update(failing_reason=reason, failing_version=failing_version)
                if not health.failing_since or health.failing_version != failing_version:
                    vals["failing_since"] = now
            health.write(vals)


class SmsProviderAccountHealthMixin(models.AbstractModel):
    """The account's side: its settings' version, whether it is failing, and its health for display."""

    _name = "sms.provider.account.health.mixin"
    _description = "SMS Gateway Account Health (account side)"

    health_state = fields.Selection(
        [("unknown", "No answer yet"), ("ok", "Working"), ("failing", "Failing: SMS held")],
        string="Health", compute="_compute_health")
    health_failing_since = fields.Datetime(string="Failing since", compute="_compute_health")
    health_failing_reason = fields.Char(string="Why it fails", compute="_compute_health")
    health_last_success = fields.Datetime(string="Last success", compute="_compute_health")
    health_last_error = fields.Char(string="Last error", compute="_compute_health")
    health_last_error_date = fields.Datetime(string="Last error on", compute="_compute_health")
    health_errors_last_hour = fields.Integer(string="Errors in the last hour", compute="_compute_health")

    def _health_version(self):
        """A digest of the settings that decide whether the account can send (not the secret itself)."""
        self.ensure_one()
        account = self.sudo()
        text = "\x1f".join(str(account[name] or "") for name in VERSIONED_FIELDS)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]

    def _health(self):
        return self.env["sms.provider.account.health"].sudo().search([("account_id", "in", self.ids)])

    def _failing_accounts(self):
        """The accounts of `self` marked failing for their current settings (a settings change ends it)."""
        by_account = {health.account_id: health for health in self._health() if health.failing_since}
        return self.browse([account.id for account, health in by_account.items()
                            if health.failing_version == account._health_version()])

    def _failover_ready(self, now):
        """The accounts of `self` (failing ones) failing for longer than the failover delay (system parameter
        `sms_marketing_addon.failover_after_minutes`, 15 by default; 0 moves their SMS at once)."""
        raw = self.env["ir.config_parameter"].sudo().get_param(FAILOVER_PARAM, FAILOVER_DEFAULT_MINUTES)
        try:
            minutes = max(0.0, float(raw))
        except (TypeError, ValueError):
            minutes = FAILOVER_DEFAULT_MINUTES
        limit = now - timedelta(minutes=minutes)
        since = {health.account_id: health.failing_since for health in self._health()}
        return self.filtered(lambda account: since.get(account) and since[account] <= limit)

    @api.model
    def _serving(self, number, candidates):
        """The account of `candidates` that serves `number`: the longest matching prefix, else a default route;
        an empty recordset when none does (unlike `_route`, no fall-back on an account for other countries)."""
        digits = (number or "").lstrip("+")
        best, best_len = candidates.browse(), -1
        for account in candidates:
            for prefix in account._prefix_list():
                if digits.startswith(prefix) and len(prefix) > best_len:
                    best, best_len = account, len(prefix)
        return best or candidates.filtered("is_default")[:1]

    def _compute_health(self):
        by_account = {health.account_id.id: health for health in self._health()}
        now = self.env.cr.now().replace(tzinfo=None)  # the clock the service's reports are stamped with
        failing = self._failing_accounts()
        for account in self:
            health = by_account.get(account.id)
            is_failing = account in failing
            account.health_state = "failing" if is_failing else ("ok" if health and health.last_success
                                                                 else "unknown")
            account.health_failing_since = health.failing_since if is_failing else False
            account.health_failing_reason = health.failing_reason if is_failing else False
            account.health_last_success = health.last_success if health else False
            account.health_last_error = health.last_error if health else False
            account.health_last_error_date = health.last_error_date if health else False
            recent = health and health.error_window_start and health.error_window_start > now - ERROR_WINDOW
            account.health_errors_last_hour = health.error_window_count if recent else 0

    def _sms_text_lang(self):
        """The language of what the sync service's reports leave on this account (why it fails, its tests'
        verdicts, why its SMS are held): written once for everyone, in the shop's language (its company's
        contact), else the administrator's."""
        self.ensure_one()
        company = self.company_id or self.env.company
        admin = self.env.ref("base.user_admin", raise_if_not_found=False)
        return company.partner_id.lang or (admin and admin.lang) or "en_US"

    def _held_reason(self):
        self.ensure_one()
        health = self._health()[:1]
        env = self.with_context(lang=self._sms_text_lang()).env
        return env._("Held: gateway account %(account)s is failing (%(reason)s). It resumes once a test call "
                     "succeeds or the account's settings are changed.",
                     account=self.name, reason=health.failing_reason or env._("refused by the provider"))
