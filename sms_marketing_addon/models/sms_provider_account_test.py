from collections import defaultdict
from datetime import timedelta

from odoo import _, api, fields, models
from odoo.tools.translate import LazyTranslate

_lt = LazyTranslate(__name__)

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
    # the template of the service's sentence and its values: the verdict in each reader's language
    result_key = fields.Char(string="Verdict template", readonly=True)
    result_args = fields.Json(string="Verdict values", readonly=True)
    result_date = fields.Datetime(readonly=True)
    provider_message_id = fields.Char(string="Provider message id", readonly=True)
    result_text = fields.Char(string="Result", compute="_compute_result_text")

    @api.depends("state", "kind", "result", "result_key", "result_args", "number", "provider_message_id")
    @api.depends_context("lang")
    def _compute_result_text(self):
        """The verdict as the reader reads it, in the reader's language."""
        providers = dict(self.env["sms.provider.account"]._fields["provider"]._description_selection(self.env))
        for test in self:
            provider = providers.get(test.account_id.provider, test.account_id.provider or "")
            said = test.result
            if test.result_key:
                said = provider_error_text({"error_code": test.result_code, "reason": test.result,
                                            "reason_key": test.result_key, "reason_args": test.result_args},
                                           self.env.lang)
            if test.kind == "connection" and test.state == "ok":
                # Odoo's words, in the reader's language (the service's reason is English; kept in `result`).
                if test.account_id.provider == "console":
                    verdict = _("the console sandbox needs no credentials: the sync service logs the messages of "
                                "this account and sends none")
                else:
                    verdict = _("%(provider)s accepts the credentials and the account can send", provider=provider)
                text = _("The connection works: %(verdict)s.", verdict=verdict)
            elif test.kind == "connection" and test.state == "failed":
                text = _("The connection test failed: %(verdict)s.", verdict=said or _("no reason given"))
            elif test.kind == "sms" and test.state == "ok":
                text = _("%(provider)s accepted the test SMS to %(number)s (message id %(id)s).",
                         provider=provider, number=test.number, id=test.provider_message_id or "-")
            elif test.kind == "sms" and test.state == "failed":
                text = _("%(provider)s did not take the test SMS to %(number)s: %(reason)s", provider=provider,
                         number=test.number, reason=said or _("no reason given"))
            else:
                text = said or False
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
                            "result": provider_error_text(result, test.account_id._sms_text_lang()),
                            **said_as(result)})
            # 'retry': still waiting, the dispatcher tries again


# The sync service's sentences about an account, by key: the same English words as its
# sync_service/core/account_problems.py TEMPLATES (a test of the service compares the two), said here in the
# shop's language. The service reports {reason_key, reason_args} along with its English sentence.
ACCOUNT_TEMPLATES = {
    "credentials": _lt("%(name)s refused the credentials: check the %(ident)s and the %(secret)s"),
    "test_credentials": _lt("%(name)s test credentials cannot send messages: use the live %(ident)s and "
                            "%(secret)s"),
    "signature": _lt("%(name)s refused the request signature: check the %(secret)s and the signature settings"),
    "suspended": _lt("%(name)s says the account is suspended or closed: see the account in %(name)s's console"),
    "no_credit": _lt("%(name)s says the account has no credit left: top it up"),
    "sender": _lt("%(name)s does not allow this sender for the account: check the sender number or ID"),
    "not_enabled": _lt("%(name)s has not enabled this account for its SMS API: see the account in %(name)s's "
                       "console"),
    "refused": _lt("%(name)s refused the account"),
    "refused_detail": _lt("%(name)s refused the account: %(detail)s"),
    "accepted": _lt("%(name)s accepts the credentials and the account can send"),
    "console": _lt("The console sandbox needs no credentials: the sync service logs the messages of this "
                   "account and sends none"),
    "unreachable": _lt("Could not reach %(name)s (%(reason)s): check the API base URL and the sync service's "
                       "network access"),
    "unreachable_at": _lt("Could not reach %(name)s at %(url)s (%(reason)s): check the API base URL and the "
                          "sync service's network access"),
    "server_error": _lt("%(name)s answered with a server error (HTTP %(code)s): try again in a few minutes"),
    "throttled": _lt("%(name)s asks to slow down (HTTP 429): try again in a minute"),
    "http": _lt("%(name)s answered the test call with HTTP %(code)s: check the API base URL and the account ID"),
    "http_at": _lt("%(name)s answered the test call with HTTP %(code)s at %(url)s: check the API base URL and "
                   "the account ID"),
}
# Refusals of the account end with the provider's code in brackets.
REFUSAL_KEYS = frozenset({"credentials", "test_credentials", "signature", "suspended", "no_credit", "sender",
                          "not_enabled", "refused", "refused_detail"})
# The values a template may name, each at most MAX_ARG_CHARS long (nothing else of a report is kept).
ARG_NAMES = ("name", "ident", "secret", "code", "detail", "url", "reason")
MAX_ARG_CHARS = 500


def _template_args(args):
    return {name: str(args[name])[:MAX_ARG_CHARS] for name in ARG_NAMES if args.get(name) not in (None, False)}


def _template_of(result):
    key = result.get("reason_key")
    return ACCOUNT_TEMPLATES.get(key) if isinstance(key, str) else None


def said_as(result):
    """The template fields of a test's verdict (its text in each reader's language), from a reported result."""
    key, args = result.get("reason_key"), result.get("reason_args")
    if _template_of(result) is not None and isinstance(args, dict):
        return {"result_key": key, "result_args": _template_args(args)}
    return {"result_key": False, "result_args": False}


def provider_error_text(result, lang=None, with_code=True):
    """A provider's answer about an account as shown to people, from a result the sync service reported
    ({error_code, reason, reason_key, reason_args}): the service's sentence said in `lang` when it names its
    template, else its words as they came (with the code when they do not name it, and `with_code`)."""
    code, reason = str(result.get("error_code") or "").strip(), str(result.get("reason") or "").strip()
    template, args = _template_of(result), result.get("reason_args")
    if template is not None and isinstance(args, dict):
        values = defaultdict(str, _template_args(args))
        try:
            text = template._translate(lang or "en_US") % values
        except (TypeError, ValueError):  # a translation that breaks its placeholders: the service's words below
            text = None
        if text is not None:
            if result.get("reason_key") in REFUSAL_KEYS and values["code"]:
                text = "%s (%s)" % (text, values["code"])
            return text
    if not with_code or (reason and (not code or code in reason)):
        return reason
    return ("%s %s" % (code, reason)).strip()
