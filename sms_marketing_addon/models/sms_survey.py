from datetime import timedelta

from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError

from .sms_keyword import normalize_keyword

SURVEY_KINDS = [
    ("rating", "Rating 1–5"),
    ("nps", "NPS 0–10"),
    ("choice", "Keyword choice"),
]
RANGES = {"rating": (1, 5), "nps": (0, 10)}
# What an answer means: changed once answers came in, the results would mix two questions.
LOCKED_WHEN_ANSWERED = ("kind", "mailing_id", "flow_step_id")


class SmsSurvey(models.Model):
    """A one-question survey asked by an SMS campaign or a flow step (the question is in the SMS text): replies
    to that SMS within the answer window that read as an answer (a number in range, or one of the choices) are
    recorded per contact; other replies go to the conversation as usual."""

    _name = "sms.survey"
    _description = "SMS one-question survey"
    _order = "id desc"

    name = fields.Char(string="Question", required=True, help="What the SMS asks, for the results.")
    kind = fields.Selection(SURVEY_KINDS, required=True, default="rating")
    choices = fields.Char(help="Keyword choice: the accepted answers, separated by commas (e.g. RED, BLUE).")
    mailing_id = fields.Many2one("mailing.mailing", string="Campaign", ondelete="cascade", index="btree_not_null",
                                 domain=[("mailing_type", "=", "sms")])
    flow_step_id = fields.Many2one("sms.flow.step", string="Flow step", ondelete="cascade", index="btree_not_null")
    # A flow step's survey is its flow's company's; a campaign's has none (Odoo's mailings are not per company).
    company_id = fields.Many2one(related="flow_step_id.company_id", store=True, index="btree_not_null",
                                 string="Company")
    answer_days = fields.Integer(string="Answers accepted for (days)", default=7, required=True)
    active = fields.Boolean(default=True)
    answer_ids = fields.One2many("sms.survey.answer", "survey_id", string="Survey answers")
    answer_count = fields.Integer(string="Answers", compute="_compute_results")
    sent_count = fields.Integer(string="SMS sent", compute="_compute_results")
    response_rate = fields.Float(string="Response rate (%)", compute="_compute_results", digits=(16, 1))
    average = fields.Float(compute="_compute_results", digits=(16, 2), help="Rating and NPS: mean of the answers.")

    _sql_constraints = [
        ("one_origin", "CHECK ((mailing_id IS NULL) != (flow_step_id IS NULL))",
         "A survey belongs to one campaign or one flow step."),
    ]

    @api.constrains("kind", "choices", "answer_days")
    def _check_choices(self):
        for survey in self:
            if survey.kind == "choice" and not survey._choice_list():
                raise ValidationError(_("A keyword choice needs its choices, separated by commas (e.g. RED, BLUE)."))
            if survey.answer_days < 1:
                raise ValidationError(_("Answers must be accepted for at least one day."))

    def write(self, vals):
        locked = [name for name in LOCKED_WHEN_ANSWERED if name in vals]
        if locked:
            for survey in self.sudo().filtered("answer_ids"):
                for name in locked:
                    current = survey[name]
                    current = current.id if isinstance(current, models.BaseModel) else current
                    if current != (vals[name] or False):
                        raise UserError(_(
                            "The survey “%(survey)s” has answers: its kind and where it is asked cannot change any "
                            "more (the results would mix two questions). Archive it and ask a new survey instead.",
                            survey=survey.name))
        return super().write(vals)

    @api.ondelete(at_uninstall=False)
    def _unlink_except_answered(self):
        answered = self.sudo().filtered("answer_ids")
        if answered:
            raise UserError(_(
                "The survey “%(survey)s” has answers (some may be another company's): it cannot be deleted. Archive "
                "it instead; its answers stay in the results.", survey=answered[0].name))

    def _choice_list(self):
        return [word for word in (normalize_keyword(c) for c in (self.choices or "").split(",")) if word]

    def _sent_messages(self):
        """The SMS that asked this question (Sent SMS of the campaign, or of the flow step)."""
        self.ensure_one()
        Sent = self.env["sms.provider.message"].sudo()
        if self.mailing_id:
            return Sent.search([("mailing_id", "=", self.mailing_id.id)])
        uuids = self.env["sms.flow.message"].sudo().search(
            [("step_id", "=", self.flow_step_id.id), ("sms_uuid", "!=", False)]).mapped("sms_uuid")
        return Sent.search([("sms_uuid", "in", uuids)])

    @api.depends("answer_ids.value", "answer_ids")
    def _compute_results(self):
        # The survey's figures count every answer, as "SMS sent" counts every send of the campaign (a campaign is
        # shared by the companies, as Odoo's are): the same rate whichever companies are selected. The answers
        # themselves (numbers, contacts) stay with their company's users (record rule).
        for survey in self:
            answers = survey.sudo().answer_ids
            sent = len(set(survey._sent_messages().mapped("number"))) if survey.id else 0
            survey.answer_count = len(answers)
            survey.sent_count = sent
            survey.response_rate = 100.0 * len(answers) / sent if sent else 0.0
            numeric = answers.filtered(lambda a: a.kind != "choice")
            survey.average = sum(numeric.mapped("value")) / len(numeric) if numeric else 0.0

    def _read_answer(self, body):
        """(value, choice) when `body` answers the question, else None: "4", " 4 ", "4/5", "4!" for a rating."""
        self.ensure_one()
        text = normalize_keyword(body).rstrip(".!?,;: ")
        if self.kind == "choice":
            return (0, text) if text in self._choice_list() else None
        low, high = RANGES[self.kind]
        digits = text.split("/")[0].strip()
        if digits.isdigit() and low <= int(digits) <= high:
            return int(digits), False
        return None

    @api.model
    def _sms_record_answer(self, outbound, inbound, partner):
        """Record `inbound` as the answer of the survey the `outbound` SMS asked, when it is one; returns the
        answer or an empty record. One answer per number and survey: the first counts."""
        Answer = self.env["sms.survey.answer"].sudo()
        if not outbound:
            return Answer
        domain = [("mailing_id", "=", outbound.mailing_id.id)] if outbound.mailing_id else []
        if not domain and outbound.sms_uuid:
            step = self.env["sms.flow.message"].sudo().search([("sms_uuid", "=", outbound.sms_uuid)], limit=1).step_id
            domain = [("flow_step_id", "=", step.id)] if step else []
        survey = self.sudo().search(domain, limit=1) if domain else self.browse()
        if not survey or outbound.date_sent + timedelta(days=survey.answer_days) < fields.Datetime.now():
            return Answer
        read = survey._read_answer(inbound.body or "")
        if read is None or Answer.search_count([("survey_id", "=", survey.id), ("number", "=", inbound.number)]):
            return Answer
        value, choice = read
        return Answer.create({
            "survey_id": survey.id, "partner_id": partner.id or False, "number": inbound.number, "value": value,
            "choice": choice, "inbound_message_id": inbound.inbound_message_id,
            # whose the answer is: the flow's company, else the conversation's (the contact's, else the
            # company the reply reached)
            "company_id": (survey.company_id or partner.company_id or inbound.company_id).id,
        })


class SmsSurveyAnswer(models.Model):
    """One contact's answer to a one-question SMS survey (the inbound message id is the proof)."""

    _name = "sms.survey.answer"
    _description = "SMS survey answer"
    _order = "id desc"

    # restrict: a campaign, flow step or flow deleted takes its survey along (cascade) but never its answers,
    # which may be another company's: PostgreSQL refuses, Odoo says to archive instead
    survey_id = fields.Many2one("sms.survey", string="Survey", required=True, ondelete="restrict", index=True,
                                readonly=True)
    kind = fields.Selection(related="survey_id.kind", store=True)
    mailing_id = fields.Many2one(related="survey_id.mailing_id", store=True, string="Campaign")
    flow_step_id = fields.Many2one(related="survey_id.flow_step_id", store=True, string="Flow step")
    partner_id = fields.Many2one("res.partner", string="Contact", readonly=True, index="btree_not_null",
                                 ondelete="set null")
    number = fields.Char(readonly=True, index=True)
    value = fields.Integer(string="Score", readonly=True, aggregator="avg",
                           help="Rating 1–5 or NPS 0–10 (0 for a keyword choice).")
    score_label = fields.Char(string="Answer", compute="_compute_score_label", store=True)
    choice = fields.Char(readonly=True)
    inbound_message_id = fields.Char(string="Reply ID at the provider", readonly=True)
    company_id = fields.Many2one("res.company", string="Company", readonly=True, index="btree_not_null")
    date = fields.Datetime(default=fields.Datetime.now, readonly=True)

    @api.depends("survey_id.name", "score_label")
    def _compute_display_name(self):
        for answer in self:
            answer.display_name = f"{answer.survey_id.name}: {answer.score_label}"

    @api.model
    def _read_group_orderby(self, order, groupby_terms, query):
        # The answers' groups (graph, pivot) in the order of their scores, "2" before "10", then by text
        # (a keyword choice scores 0): an answer label is text, and would sort "10" before "2".
        if "score_label" in groupby_terms:
            parts = []
            for part in (order or ",".join(groupby_terms)).split(","):
                term, _space, rest = part.strip().partition(" ")
                if term == "score_label":
                    parts.append(f"value:min {rest}".strip())
                parts.append(part.strip())
            order = ",".join(parts)
        return super()._read_group_orderby(order, groupby_terms, query)

    @api.depends("value", "choice", "kind")
    def _compute_score_label(self):
        for answer in self:
            answer.score_label = answer.choice if answer.kind == "choice" else str(answer.value)
