from datetime import timedelta

from odoo import _, api, fields, models

# A request the sync service has not answered after this long says so (is the service running?).
NO_ANSWER_AFTER = timedelta(minutes=2)
# Requests older than this are not handed to the service any more (they would test settings long gone).
EXPIRE_AFTER = timedelta(minutes=10)


class SmsProviderAccountTest(models.Model):
    """One "Test connection" or "Send a test SMS" of a gateway account, and what came of it.

    Odoo records the request; the sync service, which holds the gateway code, makes the call at its next poll
    (`sms.marketing.api.get_account_tests`, a provider call that sends nothing) and reports the verdict in plain
    words (`report_account_tests`); a test SMS is an SMS of the queue pinned to the account, whose result comes
    with the dispatcher's report. Settings changes that decide whether an account can send (credentials,
    provider, base URL, sender) request a test by themselves. Read-only for everyone: written with sudo by the
    buttons and the service's reports."""

    _name = "sms.provider.account.test"
    _description = "SMS Gateway Account Test"
    _order = "id desc"
    _rec_name = "account_id"

    account_id = fields.Many2one("sms.provider.account", string="Gateway account", required=True,
                                 ondelete="cascade", index=True, readonly=True)
    kind = fields.Selection([("connection", "Test connection"), ("sms", "Test SMS")], required=True,
                            readonly=True)
    automatic = fields.Boolean(readonly=True, help="Requested by a change of the account's settings.")
    number = fields.Char(readonly=True)
    sms_uuid = fields.Char(string="Test SMS key", readonly=True, index="btree_not_null")
    account_version = fields.Char(string="Settings version", readonly=True,
                                  help="The account settings tested (a digest, not the secret).")
    requested_by = fields.Many2one("res.users", readonly=True)
    state = fields.Selection([("waiting", "Testing…"), ("ok", "Works"), ("failed", "Failed"),
                              ("superseded", "Superseded")], default="waiting", required=True, readonly=True)
    result = fields.Char(string="Provider's answer", readonly=True,
                         help="What the sync service reported, in plain words (the provider's own wording).")
    result_code = fields.Char(readonly=True)
    result_date = fields.Datetime(readonly=True)
    provider_message_id = fields.Char(string="Provider message id", readonly=True)
    result_text = fields.Char(string="Result", compute="_compute_result_text")

    @api.depends("state", "kind", "result", "number", "provider_message_id")
    @api.depends_context("lang")
    def _compute_result_text(self):
        """The verdict as the reader reads it, in the reader's language."""
        providers = dict(self.env["sms.provider.account"]._fields["provider"]._description_selection(self.env))
        for test in self:
            provider = providers.get(test.account_id.provider, test.account_id.provider or "")
            if test.kind == "connection" and test.state == "ok":
                # Odoo's words, in the reader's language (the service's reason is English; kept in `result`).
                if test.account_id.provider == "console":
                    verdict = _("the console sandbox needs no credentials: the sync service logs the messages of "
                                "this account and sends none")
                else:
                    verdict = _("%(provider)s accepts the credentials and the account can send", provider=provider)
                text = _("The connection works: %(verdict)s.", verdict=verdict)
            elif test.kind == "connection" and test.state == "failed":
                text = _("The connection test failed: %(verdict)s.", verdict=test.result or _("no reason given"))
            elif test.kind == "sms" and test.state == "ok":
                text = _("%(provider)s accepted the test SMS to %(number)s (message id %(id)s).",
                         provider=provider, number=test.number, id=test.provider_message_id or "-")
            elif test.kind == "sms" and test.state == "failed":
                text = _("%(provider)s did not take the test SMS to %(number)s: %(reason)s", provider=provider,
                         number=test.number, reason=test.result or _("no reason given"))
            else:
                text = test.result or False
            test.result_text = text

    @api.model
    def _request(self, account, kind, *, automatic=False, number=False, sms_uuid=False):
        """Record a test of `account` (sudo); a waiting connection test of the same account is superseded."""
        Test = self.sudo()
        if kind == "connection":
            Test.search([("account_id", "=", account.id), ("kind", "=", "connection"),
                         ("state", "=", "waiting")]).write({"state": "superseded"})
        return Test.create({
            "account_id": account.id, "kind": kind, "automatic": automatic, "number": number,
            "sms_uuid": sms_uuid, "account_version": account._health_version(),
            "requested_by": False if automatic else self.env.uid,
        })

    @api.model
    def _pending_connection_tests(self, limit=20):
        """The connection tests the sync service should make now (sudo): waiting, recent, for the account's
        current settings and active accounts; older ones are superseded."""
        Test = self.sudo()
        now = fields.Datetime.now()
        waiting = Test.search([("kind", "=", "connection"), ("state", "=", "waiting")], order="id")
        stale = waiting.filtered(lambda t: not t.account_id.active or t.create_date < now - EXPIRE_AFTER
                                 or t.account_version != t.account_id._health_version())
        stale.write({"state": "superseded"})
        return (waiting - stale)[:limit]

    def _record_sms_results(self, results_by_key):
        """Test SMS among a dispatcher report ({key: result}): what the provider answered."""
        now = fields.Datetime.now()
        for test in self.sudo().search([("sms_uuid", "in", list(results_by_key)), ("state", "=", "waiting")]):
            result = results_by_key[test.sms_uuid]
            outcome = result.get("outcome")
            if outcome == "sent":
                test.write({"state": "ok", "result_date": now, "result_code": False, "result": False,
                            "provider_message_id": result.get("provider_message_id") or False})
            elif outcome in ("failed", "opted_out", "held"):
                test.write({"state": "failed", "result_date": now, "result_code": result.get("error_code") or False,
                            "result": provider_error_text(result.get("error_code"), result.get("reason"))})
            # 'retry': still waiting, the dispatcher tries again


def provider_error_text(code, reason):
    """A provider error as shown to people: the service's plain sentence (which names the code), else code
    and reason."""
    code, reason = str(code or "").strip(), str(reason or "").strip()
    if reason and (not code or code in reason):
        return reason
    return ("%s %s" % (code, reason)).strip()
