import logging
import re
from datetime import timedelta

import phonenumbers

from odoo import _, api, fields, models
from odoo.addons.phone_validation.tools.phone_validation import phone_parse
from odoo.exceptions import AccessError, UserError
from odoo.tools import SQL

from ..tools.segments import count_segments
from .sms_provider_account_test import provider_error_text, said_as
from .sms_provider_message import FINAL_STATES

# A number as Odoo's sanitizer writes it in E.164 (what the claim gives the service).
E164 = re.compile(r"\+[1-9][0-9]{6,14}")

_logger = logging.getLogger(__name__)
# The error code of an SMS whose worker died between handing it to the gateway and hearing the answer.
UNKNOWN_OUTCOME = "unknown_outcome"

KEYWORD_ACTIONS = ("opt_out", "opt_in", "confirm", "help", "join", "none")
REPLY_KEY = {"opt_out": "stop_reply", "opt_in": "start_reply", "confirm": "confirmed", "help": "help_reply"}


class SmsMarketingApi(models.AbstractModel):
    """RPC API of the sync service (plain model methods, callable over XML-RPC / JSON-RPC).

    Every method is reserved to the sync service's group (SMS Marketing: Sync service) and system
    administrators: they write consent proof, lift opt-outs, queue replies and hand out credentials. People
    change consent through the agent paths (the consent wizard, the contact form with a reason, an import with
    proof), each logged with the acting user."""

    _name = "sms.marketing.api"
    _description = "SMS Marketing API (sync service)"

    def _check_service(self):
        if not (self.env.su or self.env.user.has_group("base.group_system")
                or self.env.user.has_group("sms_marketing_addon.group_sms_marketing_service")):
            raise AccessError(_("The SMS marketing API is reserved to the sync service and system administrators."))

    @api.model
    def _normalize_number(self, number):
        """E.164 for a number as a provider sends it (with or without '+'); UserError when it is no number."""
        raw = (number or "").strip()
        if raw.startswith("00") and raw.isdigit():
            raw = "+" + raw[2:]
        elif raw and not raw.startswith("+") and raw.isdigit():
            raw = "+" + raw
        try:
            parsed = phone_parse(raw, None)
        except UserError as err:
            raise UserError(_("Not a phone number: %(number)r (%(reason)s)", number=number, reason=err)) from err
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)

    @api.model
    def apply_inbound_keyword(self, number, action, inbound_message_id, body="", provider=""):
        """Apply an inbound keyword reply, once per inbound message id.

        :param number: sender's number (E.164, with or without '+')
        :param action: 'opt_out' | 'opt_in' | 'confirm' | 'help' | 'none'
        :param inbound_message_id: the provider's id of the inbound SMS (idempotency key)
        :return: dict(result, action, number, partner_ids, reply, duplicate)
        """
        self._check_service()
        if action not in KEYWORD_ACTIONS:
            raise UserError(_("Unknown keyword action %(action)r; expected one of %(actions)s",
                              action=action, actions=", ".join(KEYWORD_ACTIONS)))
        if not inbound_message_id:
            raise UserError(_("An inbound message id is required (it makes the call idempotent)."))
        Inbound = self.env["sms.inbound.message"].sudo()
        done = Inbound.search([("inbound_message_id", "=", inbound_message_id)], limit=1)
        if done:
            return self._inbound_result(done, duplicate=True)
        e164 = self._normalize_number(number)
        Partner = self.env["res.partner"].sudo().with_context(active_test=False)
        partners = Partner.search([("sms_number", "=", e164)])
        proof = {"inbound_message_id": inbound_message_id, "note": body or False}
        if action == "opt_out":
            if partners:
                affected = partners._sms_opt_out("keyword", **proof)
            else:
                affected = Partner.browse()
                self.env["sms.consent.log"]._log(affected, "opt_out", "keyword", number=e164, **proof)
                self.env["phone.blacklist"].sudo().with_context(sms_marketing_no_sync=True)._add(
                    [e164], message=_("SMS opt-out (keyword)"))
            result = "opted_out"
        elif action == "opt_in":
            affected = partners.filtered("sms_number_valid")
            if affected:
                for partner in affected:
                    event = "re_subscribe" if partner.sms_consent_state == "opted_out" else "opt_in"
                    partner._sms_opt_in("keyword", event=event, **proof)
            else:
                self.env["sms.consent.log"]._log(affected, "re_subscribe", "keyword", number=e164, **proof)
                self.env["phone.blacklist"].sudo().with_context(sms_marketing_no_sync=True)._remove(
                    [e164], message=_("SMS re-subscribe (keyword)"))
            result = "opted_in"
        elif action == "confirm":
            affected = partners._sms_confirm("keyword", **proof)
            if affected:
                result = "confirmed"
            elif partners.filtered(lambda p: p.sms_consent_state == "pending"):
                result = "expired"
            else:
                result = "nothing_pending"
        elif action == "help":
            affected, result = Partner.browse(), "help"
        elif action == "join":
            affected, result = self._sms_keyword_join(partners, e164, proof)
        else:
            affected, result = Partner.browse(), "received"
            for partner in partners:
                partner.message_post(body=_("SMS reply from %(number)s: %(body)s", number=e164, body=body or ""),
                                     message_type="comment", subtype_xmlid="mail.mt_note", author_id=partner.id)
        reply = False
        if action in REPLY_KEY and (action != "confirm" or result == "confirmed"):
            anchor = (affected or partners)[:1]
            company = anchor.company_id or self.env.company
            lang = self._sms_reply_lang(anchor, e164)
            reply = company._sms_text(REPLY_KEY[action], lang)
        if reply:
            self.env["sms.sms"].sudo().create({
                "number": e164, "body": reply, "sms_kind": "consent",
                "partner_id": (affected or partners)[:1].id or False,
            })
        record = Inbound.create({
            "inbound_message_id": inbound_message_id, "provider": provider or False, "number": e164,
            "body": body or False, "action": action, "result": result,
            "partner_ids": [(6, 0, (affected or partners).ids)], "reply": reply,
        })
        return self._inbound_result(record, duplicate=False)

    @api.model
    def _sms_keyword_join(self, partners, e164, proof):
        """JOIN/INSCRIPTION: subscribe by SMS. A number no contact has gets one (named after the number); the
        double opt-in starts (pending, consent log with the inbound message id and text, the "reply YES"
        SMS), unless a contact is already opted in or a request still waits for its answer."""
        if partners.filtered(lambda p: p.sms_consent_state == "opted_in"):
            return partners.filtered(lambda p: p.sms_consent_state == "opted_in"), "already_opted_in"
        waiting = partners.filtered(lambda p: p.sms_consent_state in ("pending", "opted_out")
                                    and not p._sms_pending_expired())
        if waiting:
            return waiting, "already_pending"
        if not partners:
            partners = self.env["res.partner"].sudo().create({"name": e164, "mobile": e164})
        targets = partners.filtered("sms_number_valid")
        if not targets:
            return partners, "invalid_number"
        targets._sms_request_consent("keyword", **proof)
        return targets, "opt_in_requested"

    def _inbound_result(self, record, duplicate):
        return {
            "result": record.result, "action": record.action, "number": record.number,
            "partner_ids": record.partner_ids.ids, "reply": record.reply or False, "duplicate": duplicate,
        }

    @api.model
    def get_consent(self, number):
        """Consent of a number: whether marketing SMS may go to it, and the contacts that share it."""
        self._check_service()
        e164 = self._normalize_number(number)
        partners = self.env["res.partner"].sudo().with_context(active_test=False).search([("sms_number", "=", e164)])
        blacklisted = bool(self.env["phone.blacklist"].sudo().with_context(active_test=True).search_count(
            [("number", "=", e164)]))
        return {
            "number": e164,
            "blacklisted": blacklisted,
            "may_receive_marketing": any(p.sms_may_receive_marketing for p in partners) and not blacklisted,
            "partners": [{"id": p.id, "state": p.sms_consent_state, "valid": p.sms_number_valid} for p in partners],
        }


class SmsMarketingApiOutbox(models.AbstractModel):
    """The outbox half of the API: the sync service claims queued SMS, reports what the gateways said, and
    hands delivery receipts back. Reserved to system administrators and the group SMS Marketing / Sync
    service (the methods hand out gateway credentials and message contents)."""

    _inherit = "sms.marketing.api"

    @api.model
    def get_provider_accounts(self):
        """Active gateway accounts with their credentials, for the sync service."""
        self._check_service()
        accounts = self.env["sms.provider.account"].sudo().search([])
        failing = accounts._failing_accounts()
        return [dict(account._as_service_dict(), health_version=account._health_version(),
                     failing=account in failing) for account in accounts]

    @api.model
    def get_keywords(self):
        """The inbound keywords per action (editable in Odoo), for the sync service."""
        self._check_service()
        return self.env["sms.keyword"].sudo()._as_mapping()

    @api.model
    def claim_batch(self, worker_id, limit=100, lease_seconds=120):
        """Claim up to `limit` queued SMS for `worker_id` for `lease_seconds`, exclusively across concurrent
        workers (FOR UPDATE SKIP LOCKED). The compliance gate runs first: marketing SMS without consent or to
        opted-out numbers are cancelled, those outside sending hours or over the frequency cap deferred.

        :return: {messages: [{key, number, body, account_id, kind, mailing_id}], deferred, canceled, scanned}
        """
        self._check_service()
        if not worker_id:
            raise UserError(_("A worker id is required to claim SMS."))
        limit = max(1, min(int(limit), 1000))
        lease_seconds = max(5, min(int(lease_seconds), 3600))
        Sms = self.env["sms.sms"].sudo()
        Sms.flush_model()
        now = self.env.cr.now().replace(tzinfo=None)
        Account = self.env["sms.provider.account"]
        accounts = Account.sudo().search([])  # routed in Python: one search per claim, not one per SMS
        # Failing accounts hold their SMS (not even looked at), until they have failed for longer than the failover
        # delay: then their SMS move to the next account serving their destination, as those of archived ones.
        failing = accounts._failing_accounts()
        working = accounts - failing
        moving = failing._failover_ready(now) if working else Account.browse()
        held_accounts = failing - moving
        for account in held_accounts:  # queued since the account failed: the Outbox says why they wait
            Sms.search([("sms_account_id", "=", account.id), ("state", "=", "outgoing"),
                        ("sms_defer_reason", "=", False), ("sms_claim_worker", "=", False)]).write(
                {"sms_defer_reason": account._held_reason()})
        rows = self.env.execute_query(SQL(
            """SELECT id FROM sms_sms
                WHERE state = 'outgoing' AND to_delete IS NOT TRUE
                  AND (sms_defer_until IS NULL OR sms_defer_until <= %(now)s)
                  AND (sms_claim_expires IS NULL OR sms_claim_expires < %(now)s)
                  AND (sms_account_id IS NULL OR NOT sms_account_id = ANY(%(held)s))
                ORDER BY id
                LIMIT %(limit)s
                FOR UPDATE SKIP LOCKED""",
            now=now, limit=limit, held=held_accounts.ids or [0],
        ))
        candidates = Sms.browse([row[0] for row in rows])
        bodies = {}  # decorated by the gate, written with the claim (one UPDATE of each row)
        to_send, deferred, canceled = candidates._sms_gate(now, bodies=bodies)
        expires = now + timedelta(seconds=lease_seconds)
        missing_number = to_send.filtered(lambda sms: not sms.number)
        if missing_number:
            missing_number._sms_cancel("sms_number_missing")
            to_send -= missing_number
        by_account, moved = {}, {}  # ids in lists while routing (a recordset union per SMS costs the square)
        routable = accounts - moving
        for sms in to_send:
            current = sms.sms_account_id
            if current and current in accounts and current not in moving:
                account = current
            elif current:  # archived, deleted or failing for too long: the next account serving the destination
                account = Account._serving(sms.number, working) or (
                    Account._route(sms.number, routable) if current not in accounts else current)
                if account and account != current:
                    moved.setdefault((current, account), []).append(sms.id)
            else:
                account = Account._route(sms.number, routable)
            by_account.setdefault(account, []).append(sms.id)
        by_account = {account: Sms.browse(ids) for account, ids in by_account.items()}
        moved = {pair: Sms.browse(ids) for pair, ids in moved.items()}
        for (old, new), records in moved.items():
            why = _("failing since %s", old._health()[:1].failing_since) if old in moving else _("archived")
            records.write({"sms_last_error": _("Moved from gateway account %(old)s (%(why)s) to %(new)s",
                                               old=old.sudo().name, why=why, new=new.name)})
            _logger.info("%d SMS moved from gateway account %s (%s) to %s", len(records), old.id, why, new.id)
        for account, records in by_account.items():
            if account in failing:  # routed just now to a failing account: held with it
                records.write({"sms_account_id": account.id, "sms_defer_until": False,
                               "sms_defer_reason": account._held_reason()})
                to_send -= records
                continue
            records._sms_write_columns(
                {"sms_claim_worker": worker_id, "sms_claim_expires": expires, "sms_account_id": account.id,
                 "sms_defer_until": False, "sms_defer_reason": False},
                bodies={sms_id: bodies.pop(sms_id) for sms_id in records.ids if sms_id in bodies})
        Sms._sms_write_bodies(bodies)  # decorated, then held with a failing account
        messages = [{
            "key": sms.uuid, "number": sms.number, "body": sms.body or "",
            "account_id": sms.sms_account_id.id or False, "kind": sms.sms_kind,
            "mailing_id": sms.mailing_id.id or False,
        } for sms in to_send]
        return {
            "messages": messages, "deferred": len(deferred),
            "canceled": sum(len(records) for records in canceled.values()), "scanned": len(candidates),
            "lease_expires_at": fields.Datetime.to_string(expires),
        }

    @api.model
    def release_claims(self, worker_id, keys):
        """Give back claimed SMS a worker did not send (graceful shutdown)."""
        self._check_service()
        sms = self.env["sms.sms"].sudo().search([
            ("uuid", "in", list(keys)), ("sms_claim_worker", "=", worker_id), ("state", "=", "outgoing")])
        sms.write({"sms_claim_worker": False, "sms_claim_expires": False})
        return len(sms)

    @api.model
    def report_results(self, worker_id, results):
        """Record what the gateways answered, in one call per batch.

        Each result: {key, outcome: 'sent'|'failed'|'opted_out'|'retry'|'held', provider_message_id,
        error_code, reason, retry_after (seconds), segments, number_rejected (bool), account_version, reason_key,
        reason_args (the template of the service's sentence about an account, said in the shop's language)}.
        'held': the provider refused the ACCOUNT (credentials, suspended, credit, sender): the SMS stays
        queued and the account is marked failing for the settings `account_version` names (the
        `health_version` of `get_provider_accounts`), so that its SMS are held until a test call succeeds
        (`report_account_health`) or its settings change. Idempotent: a key already reported as sent is not
        reported twice. Returns {updated, unknown: [keys]}.
        """
        self._check_service()
        by_key = {r.get("key"): r for r in results if r.get("key")}
        Sms = self.env["sms.sms"].sudo().with_context(sms_skip_msg_notification=True)
        all_sms = Sms.search([("uuid", "in", list(by_key))])
        ProviderMessage = self.env["sms.provider.message"].sudo()
        already = set(ProviderMessage.search([("sms_uuid", "in", list(by_key))]).mapped("sms_uuid"))
        now = self.env.cr.now()
        updated = 0
        sent_ids = []  # ids in lists while the loop runs (a recordset union per SMS costs the square)
        accepted = []
        succeeded, errors = set(), {}  # account health: accounts that sent, {account: (reason, failing version)}
        held_ids = []
        for sms in all_sms:
            result = by_key[sms.uuid]
            outcome = result.get("outcome")
            if outcome == "sent":
                if sms.uuid not in already:
                    already.add(sms.uuid)
                    accepted.append((sms.uuid, result.get("provider_message_id") or False,
                                     int(result.get("segments") or 1)))
                if sms.state in ("outgoing", "process"):
                    sent_ids.append(sms.id)
                succeeded.add(sms.sms_account_id)
            elif sms.uuid in already:
                # A provider already accepted this SMS: a late failure or retry report must not undo that.
                pass
            elif outcome == "held":
                account = sms.sms_account_id
                lang = account._sms_text_lang() if account else None
                reason = provider_error_text(result, lang)
                reason = reason or self.with_context(lang=lang).env._("the provider refused the account")
                current = account and result.get("account_version") == account._health_version()
                if account and (current or not result.get("account_version")):
                    errors[account] = (reason, account._health_version())
                    held = {"sms_defer_until": False}
                    held_ids.append(sms.id)
                else:  # seen with settings changed since: try again soon with the new ones
                    held = {"sms_defer_until": now + timedelta(seconds=float(result.get("retry_after") or 30)),
                            "sms_defer_reason": _("provider: %s", reason)}
                sms.write({"sms_claim_worker": False, "sms_claim_expires": False, "sms_last_error": reason,
                           **held})
            elif outcome == "retry":
                delay = float(result.get("retry_after") or 30)
                if result.get("error_code") not in (None, False, "interrupted", "no_account") and sms.sms_account_id:
                    errors.setdefault(sms.sms_account_id, (
                        "%s %s" % (result.get("error_code"), result.get("reason") or ""), None))
                sms.write({
                    "sms_claim_worker": False, "sms_claim_expires": False, "sms_attempts": sms.sms_attempts + 1,
                    "sms_defer_until": now + timedelta(seconds=max(1.0, delay)),
                    "sms_defer_reason": _("provider: %s", result.get("reason") or result.get("error_code") or "retry"),
                    "sms_last_error": result.get("reason") or result.get("error_code") or False,
                })
            elif outcome in ("failed", "opted_out"):
                failure_type = "sms_optout" if outcome == "opted_out" else (
                    "sms_rejected_number" if result.get("number_rejected") else "sms_server")
                reason = "%s %s" % (result.get("error_code") or "", result.get("reason") or "")
                sms.write({"state": "error", "failure_type": failure_type, "sms_claim_worker": False,
                           "sms_claim_expires": False, "sms_last_error": reason.strip() or False})
                sms.sms_tracker_id._action_update_from_sms_state(
                    "error", failure_type=failure_type, failure_reason=reason.strip() or False)
                if outcome == "opted_out":
                    self._opt_out_from_provider(sms.number, result)
                elif result.get("number_rejected"):
                    self._flag_rejected_number(sms.number, reason.strip())
            else:
                raise UserError(_("Unknown outcome %(outcome)r for SMS %(key)s", outcome=outcome, key=sms.uuid))
            updated += 1
        sent_sms, held_sms = Sms.browse(sent_ids), Sms.browse(held_ids)
        self._record_account_health(succeeded, errors, now.replace(tzinfo=None))
        self.env["sms.provider.account.test"]._record_sms_results(by_key)
        for account in held_sms.sms_account_id:
            held_sms.filtered(lambda sms, a=account: sms.sms_account_id == a).write(
                {"sms_defer_reason": account._held_reason()})
        ProviderMessage._sms_create_sent(accepted, now)  # set-based: one statement per report, not the ORM's
        if sent_sms:
            sent_sms._sms_write_columns({"state": "pending", "failure_type": False, "to_delete": True,
                                         "sms_claim_worker": False, "sms_claim_expires": False})
            Sms.env["sms.tracker"]._sms_update_pending(sent_sms.mapped("uuid"))  # sudo, as Sms
        (all_sms.mail_message_id)._notify_message_notification_update()
        return {"updated": updated, "unknown": sorted(set(by_key) - set(all_sms.mapped("uuid")) - already)}

    def _record_account_health(self, succeeded, errors, now):
        """Health of the accounts a report or a test call heard from (sudo: nobody else writes it)."""
        Health = self.env["sms.provider.account.health"].sudo()
        accounts = self.env["sms.provider.account"].sudo().browse(
            {account.id for account in succeeded if account} | {account.id for account in errors})
        if not accounts:
            return
        rows = {health.account_id: health for health in Health._of(accounts)}
        for account in succeeded:
            if account and account not in errors:
                rows[account]._record_success(now)
        for account, (reason, failing_version) in errors.items():
            was_failing = rows[account].failing_since and rows[account].failing_version == failing_version
            rows[account]._record_error(now, reason.strip(), failing_version=failing_version)
            if failing_version and not was_failing:
                _logger.warning("gateway account %s (id %s) is failing, its SMS are held: %s",
                                account.name, account.id, reason)
                # SMS already routed to it and waiting: say why they wait.
                waiting = self.env["sms.sms"].sudo().search([
                    ("sms_account_id", "=", account.id), ("state", "=", "outgoing"),
                    ("sms_claim_worker", "=", False)])
                waiting.write({"sms_defer_reason": account._held_reason()})

    @api.model
    def report_account_health(self, results):
        """What a test call of the sync service (a provider call that sends nothing) said about accounts:
        [{account_id, account_version, ok (bool), error_code, reason, reason_key, reason_args, account_wide
        (bool)}]. A success ends a "failing" state (its held SMS are offered again at the next claim). Returns
        {updated}."""
        self._check_service()
        Account = self.env["sms.provider.account"].sudo()
        now = self.env.cr.now().replace(tzinfo=None)
        succeeded, errors = set(), {}
        for result in results:
            account = Account.browse(int(result.get("account_id") or 0)).exists()
            if not account:
                continue
            version = result.get("account_version")
            if version and version != account._health_version():
                continue  # tested with settings changed since: says nothing about the current ones
            if result.get("ok"):
                succeeded.add(account)
            else:
                lang = account._sms_text_lang()
                reason = provider_error_text(result, lang)
                errors[account] = (reason or self.with_context(lang=lang).env._("test call refused"),
                                   account._health_version() if result.get("account_wide") else None)
        if succeeded:
            held = self.env["sms.sms"].sudo().search([
                ("sms_account_id", "in", [account.id for account in succeeded]), ("state", "=", "outgoing"),
                ("sms_claim_worker", "=", False), ("sms_defer_until", "=", False)])
            held.write({"sms_defer_reason": False})
        self._record_account_health(succeeded, errors, now)
        return {"updated": len(succeeded) + len(errors)}

    @api.model
    def get_account_tests(self, limit=20):
        """The "Test connection" requests waiting for the sync service (a button on the account, or new settings):
        [{id, account_id, account_version}]. The service makes the test call (nothing sent, nothing billed) with
        the account's current settings and reports it with `report_account_tests`."""
        self._check_service()
        tests = self.env["sms.provider.account.test"]._pending_connection_tests(max(1, min(int(limit), 100)))
        return [{"id": test.id, "account_id": test.account_id.id, "account_version": test.account_version}
                for test in tests]

    @api.model
    def report_account_tests(self, results):
        """What the test calls of `get_account_tests` said: [{id, ok, account_wide, error_code, reason (plain
        words), reason_key, reason_args}]. The test shows the verdict on the account; it also counts as the
        account's health (a success ends a failing state, a refusal of the account holds its SMS). Returns
        {updated}."""
        self._check_service()
        Test = self.env["sms.provider.account.test"].sudo()
        now = fields.Datetime.now()
        health, updated = [], 0
        for result in results:
            test = Test.browse(int(result.get("id") or 0)).exists()
            if not test or test.state != "waiting":
                continue
            ok = bool(result.get("ok"))
            text = provider_error_text(result, test.account_id._sms_text_lang(), with_code=not ok)
            test.write({"state": "ok" if ok else "failed", "result": text or False, "result_date": now,
                        "result_code": result.get("error_code") or False, **said_as(result)})
            health.append({"account_id": test.account_id.id, "account_version": test.account_version, "ok": ok,
                           "account_wide": bool(result.get("account_wide")),
                           "error_code": result.get("error_code"), "reason": result.get("reason"),
                           "reason_key": result.get("reason_key"), "reason_args": result.get("reason_args")})
            updated += 1
        if health:
            self.report_account_health(health)
        return {"updated": updated}

    def _opt_out_from_provider(self, number, result):
        partners = self.env["res.partner"].sudo().with_context(active_test=False).search([("sms_number", "=", number)])
        note = _("The gateway reports the number opted out (%s)", result.get("error_code") or "")
        if partners:
            partners._sms_opt_out("provider", note=note)
        else:
            self.env["sms.consent.log"]._log(partners, "opt_out", "provider", number=number, note=note)
            self.env["phone.blacklist"].sudo().with_context(sms_marketing_no_sync=True)._add([number], message=note)

    def _flag_rejected_number(self, number, reason):
        partners = self.env["res.partner"].sudo().with_context(active_test=False).search([("sms_number", "=", number)])
        partners._sms_write_internal({"sms_number_rejected": reason or _("rejected by the provider")})

    @api.model
    def apply_delivery_statuses(self, events):
        """Delivery receipts: [{provider_message_id, status: 'sent'|'delivered'|'undelivered'|'failed',
        error_code, number_invalid, opted_out (the recipient opted out at the provider: recorded as an opt-out
        whose source is the provider), key (the SMS uuid, when the gateway echoes it)}]. A final state is never
        downgraded. Returns {applied, ignored, unknown: [ids not known (yet)], invalid: [ids whose status is
        not one of the four]}."""
        self._check_service()
        ProviderMessage = self.env["sms.provider.message"].sudo()
        ids = [e.get("provider_message_id") for e in events if e.get("provider_message_id")]
        messages = {m.provider_message_id: m for m in ProviderMessage.search([("provider_message_id", "in", ids)])}
        messages.update(self._settle_unknown_outcomes([e for e in events if e.get("provider_message_id")
                                                       and e.get("provider_message_id") not in messages]))
        trackers = {t.sms_uuid: t for t in self.env["sms.tracker"].sudo().search(
            [("sms_uuid", "in", [m.sms_uuid for m in messages.values()])])}
        applied = ignored = 0
        unknown, invalid = [], []
        # Decided receipt by receipt (in order: a message's state as the receipts before left it), written per
        # group of equal values (one ORM write and one tracker update per group, not per receipt).
        now = self.env.cr.now()
        current, writes, delivered, undelivered = {}, {}, [], {}
        for event in events:
            message = messages.get(event.get("provider_message_id"))
            status = event.get("status")
            if status not in ("sent", "delivered", "undelivered", "failed"):
                invalid.append(event.get("provider_message_id"))
                continue
            if not message:
                unknown.append(event.get("provider_message_id"))
                continue
            state = current.get(message.id, message.state)
            if state in FINAL_STATES or state == status:
                ignored += 1
                continue
            current[message.id] = status
            writes[message.id] = (status, event.get("error_code") or False, now if status in FINAL_STATES else False)
            tracker = trackers.get(message.sms_uuid)
            if status == "delivered":
                delivered.append(tracker.id if tracker else None)
            elif status in ("undelivered", "failed"):
                kind = "invalid_destination" if event.get("number_invalid") else "not_delivered"
                undelivered.setdefault(kind, []).append(tracker.id if tracker else None)
                if event.get("opted_out"):
                    self._opt_out_from_provider(message.number, event)
                elif event.get("number_invalid"):
                    self._flag_rejected_number(message.number, event.get("error_code") or "")
            applied += 1
        groups = {}
        for message_id, values in writes.items():
            groups.setdefault(values, []).append(message_id)
        for (status, error_code, date_final), ids in groups.items():
            ProviderMessage.browse(ids).write({"state": status, "error_code": error_code, "date_final": date_final})
        # sudo also without a tracker (flow and transactional SMS): mass_mailing_sms's update searches mailings.
        Tracker = self.env["sms.tracker"].sudo()
        if delivered:
            Tracker.browse([tracker_id for tracker_id in delivered if tracker_id])._action_update_from_sms_state("sent")
        for kind, tracker_ids in undelivered.items():
            Tracker.browse([tracker_id for tracker_id in tracker_ids if tracker_id])._action_update_from_provider_error(
                kind)
        return {"applied": applied, "ignored": ignored, "unknown": unknown, "invalid": invalid}

    def _settle_unknown_outcomes(self, events):
        """Receipts that name the SMS (its key, which the service puts in the callback URL or Vonage's
        client-ref) for an SMS reported failed with an unknown outcome (the service died between handing it
        to the gateway and hearing the answer): the receipt proves the gateway took it, so it is recorded
        as sent under that provider message id, and the receipt then applies as usual.
        Returns {provider_message_id: sms.provider.message} for the settled ones."""
        by_key = {e["key"]: e for e in events if e.get("key")}
        if not by_key:
            return {}
        Sms = self.env["sms.sms"].sudo().with_context(sms_skip_msg_notification=True)
        ProviderMessage = self.env["sms.provider.message"].sudo()
        known = set(ProviderMessage.search([("sms_uuid", "in", list(by_key))]).mapped("sms_uuid"))
        candidates = Sms.search([("uuid", "in", list(by_key)), ("state", "=", "error"),
                                 ("sms_last_error", "=like", UNKNOWN_OUTCOME + "%")])
        settling = candidates.filtered(lambda sms: sms.uuid not in known)
        if not settling:
            return {}
        now = self.env.cr.now()
        settled = ProviderMessage.create([
            self._provider_message_vals(sms, by_key[sms.uuid]["provider_message_id"],
                                        count_segments(sms.body or "")["segments"] or 1, now)
            for sms in settling
        ])
        settling.write({"state": "pending", "failure_type": False, "to_delete": True,
                        "sms_last_error": _("The gateway had taken it: its receipt came after an unknown outcome")})
        settling.sms_tracker_id._action_update_from_sms_state("pending")
        _logger.info("%d SMS with an unknown outcome settled by their receipt: %s", len(settling),
                     ", ".join(settling.mapped("uuid")))
        return {message.provider_message_id: message for message in settled}

    def _provider_message_vals(self, sms, provider_message_id, segments, date_sent):
        """The `sms.provider.message` row of an SMS a gateway accepted."""
        return {
            "sms_uuid": sms.uuid, "provider_message_id": provider_message_id,
            "account_id": sms.sms_account_id.id, "provider": sms.sms_account_id.provider,
            "number": sms.number, "partner_id": sms.partner_id.id, "mailing_id": sms.mailing_id.id,
            "is_marketing": sms.sms_kind == "marketing", "segments": segments, "date_sent": date_sent,
        }

    @api.model
    def queue_test_sms(self, number, body):
        """`sms-sync send-test`: queue one transactional SMS to `number` (through the gate and routing like any
        other) and return {id, key}. The service user has no right on `sms.sms` itself."""
        self._check_service()
        if not (body or "").strip():
            raise UserError(_("A test SMS needs a text."))
        sms = self.env["sms.sms"].sudo().create({
            "number": (number or "").strip(), "body": body, "sms_kind": "transactional", "state": "outgoing",
        })
        return {"id": sms.id, "key": sms.uuid}

    @api.model
    def test_sms_state(self, sms_id):
        """What became of an SMS queued by `queue_test_sms` (empty when Odoo deleted it after sending)."""
        self._check_service()
        sms = self.env["sms.sms"].sudo().browse(int(sms_id)).exists()
        return sms and {"state": sms.state, "failure_type": sms.failure_type or False,
                        "sms_defer_reason": sms.sms_defer_reason or False} or {}

    @api.model
    def check_opt_outs(self, numbers):
        """Which of these numbers are in the opt-out register now (re-checked just before sending, about once a
        second per batch being sent). The claim gives E.164 numbers, the register stores them so: those are
        looked up as they are, in one indexed query (the domain `number in` parses every number again with
        phonenumbers: a fifth of Odoo's time while a campaign went out, measured); anything else is sanitized
        by the register's own domain as before."""
        self._check_service()
        wanted = list(dict.fromkeys(number for number in numbers or () if isinstance(number, str) and number))
        e164 = [number for number in wanted if E164.fullmatch(number)]
        Blacklist = self.env["phone.blacklist"].sudo()
        Blacklist.flush_model(["number", "active"])
        found = [row[0] for row in self.env.execute_query(SQL(
            "SELECT number FROM phone_blacklist WHERE active AND number = ANY(%s)", e164))] if e164 else []
        others = [number for number in wanted if not E164.fullmatch(number)]
        if others:
            found += Blacklist.search([("number", "in", others)]).mapped("number")
        return list(dict.fromkeys(found))
