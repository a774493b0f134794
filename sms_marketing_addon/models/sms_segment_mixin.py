import logging
import re

from odoo import api, fields, models
from odoo.addons.link_tracker.models.link_tracker import LINK_TRACKER_MIN_CODE_LENGTH
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tools import SQL
from odoo.tools.rendering_tools import parse_inline_template

from ..tools.segments import count_segments

_logger = logging.getLogger(__name__)

# Characters of a link tracker code (link.tracker.code._get_random_code_strings).
_CODE_ALPHABET = 62
_DOTTED_PATH = re.compile(r"^object(?:\.[A-Za-z_]\w*)+$")


class SmsSegmentMixin(models.AbstractModel):
    """Server-side SMS length of a dynamic body (``mail.render.mixin`` models), as its recipient receives it.

    The body is rendered on a sample record of the render model (its recipient: the sample's number and the
    contact the compliance gate decorates for), adapted as the sending path adapts it (``_sms_segment_adapt``:
    short links of a mailing), followed by the line the sending path appends (``_sms_segment_footer``: a
    mailing's unsubscribe link), then decorated by the gate's own code (``sms.sms._sms_decorated_body``: brand
    first, the opt-out footer of the recipient's policy in the recipient's language) when the body goes out as
    a marketing SMS, and counted with ``tools.segments``. Concrete models say which field holds the body
    (``_sms_segment_body_field``), whether the counter applies (``_sms_segment_applies``) and may override the
    other hooks; they override ``_compute_sms_segments`` only to declare its ``@api.depends``.
    """

    _name = "sms.segment.mixin"
    _description = "SMS segment counter"

    sms_segment_count = fields.Integer(string="SMS segments", compute="_compute_sms_segments")
    sms_encoding = fields.Char(string="SMS encoding", compute="_compute_sms_segments")
    sms_char_count = fields.Integer(string="SMS characters", compute="_compute_sms_segments")
    sms_non_gsm_characters = fields.Char(string="Characters forcing UCS-2", compute="_compute_sms_segments")
    sms_segment_summary = fields.Char(string="SMS length", compute="_compute_sms_segments")
    sms_segment_sample = fields.Char(string="SMS length counted for", compute="_compute_sms_segments")
    sms_segment_warning = fields.Char(string="SMS length warning", compute="_compute_sms_segments")

    # ------------------------------------------------------------
    # Hooks
    # ------------------------------------------------------------

    def _sms_segment_body_field(self):
        raise NotImplementedError()

    def _sms_segment_applies(self):
        return True

    def _sms_segment_footer(self):
        """Text the sending path appends to the rendered body (without the separating newline), before the gate."""
        return ""

    def _sms_segment_unsubscribe_marker(self):
        """The mailing's own unsubscribe link path in the body ("/sms/<mailing id>/"), which the gate takes for
        an opt-out instruction."""
        return None

    def _sms_segment_adapt(self, text):
        """Transformation of the rendered body by the sending path before the footer (e.g. link shortening)."""
        return text

    def _sms_segment_before_gate(self, text):
        """Last change the sending path makes to the body (footer included) before the gate decorates it."""
        return text

    def _sms_segment_render_context(self):
        """Context of the sample render (values the sending path gives to the placeholders)."""
        return {}

    def _sms_segment_render_lang(self, lang):
        """Language the body is rendered in, given the recipient's (None: the current one)."""
        return None

    def _sms_segment_marketing(self):
        """Whether the body goes out as a marketing SMS (the gate adds the brand and the opt-out footer)."""
        return True

    # ------------------------------------------------------------
    # Compute
    # ------------------------------------------------------------

    def _compute_sms_segments(self):
        company = self.env.company
        limit = company.sms_max_segments
        for record in self:
            if not record._sms_segment_applies():
                record.update({
                    "sms_segment_count": 0, "sms_char_count": 0, "sms_encoding": False,
                    "sms_non_gsm_characters": False, "sms_segment_summary": False,
                    "sms_segment_sample": False, "sms_segment_warning": False,
                })
                continue
            text, recipient = record._sms_segment_text_and_recipient()
            info = count_segments(text)
            record.sms_segment_count = info["segments"]
            record.sms_encoding = info["encoding"]
            record.sms_char_count = info["characters"]
            record.sms_non_gsm_characters = " ".join(info["non_gsm"]) or False
            record.sms_segment_summary = record._sms_segment_summary(info)
            record.sms_segment_sample = record._sms_segment_sample_description(recipient)
            if limit > 0 and info["segments"] > limit:
                warning = self.env._(
                    "This message is sent as %(count)s SMS segments, more than the limit of %(limit)s "
                    "set for %(company)s: each recipient will be charged %(count)s messages.",
                    count=info["segments"], limit=limit, company=company.name,
                )
                if info["non_gsm"]:
                    warning += " " + self.env._(
                        "Without the characters forcing UCS-2 (%(chars)s), each segment would hold about "
                        "twice as many characters.", chars=" ".join(info["non_gsm"]),
                    )
                record.sms_segment_warning = warning
            else:
                record.sms_segment_warning = False

    def _sms_segment_summary(self, info):
        if info["segments"] == 1:
            return self.env._("1 segment · %(encoding)s · %(count)s characters",
                              encoding=info["encoding"], count=info["characters"])
        return self.env._("%(segments)s segments · %(encoding)s · %(count)s characters",
                          segments=info["segments"], encoding=info["encoding"], count=info["characters"])

    def _sms_segment_sample_description(self, recipient):
        lang = self.env["res.lang"]._get_data(code=recipient["lang"]).name or recipient["lang"]
        values = {"lang": lang, "policy": recipient["policy"].name or "-"}
        if self._sms_segment_marketing():
            if recipient["name"]:
                return self.env._(
                    "Counted as its recipient %(recipient)s receives it (%(lang)s, policy “%(policy)s”): brand, "
                    "opt-out footer and short links included.", recipient=recipient["name"], **values)
            return self.env._(
                "Counted with no recipient to sample (%(lang)s, policy “%(policy)s”): brand and opt-out footer "
                "included.", **values)
        return False

    def _sms_segment_text(self):
        """The body as its sample recipient will receive it."""
        return self._sms_segment_text_and_recipient()[0]

    def _sms_segment_text_and_recipient(self):
        """(text, recipient): the body rendered on the sample record, adapted, the sending path's footer added,
        decorated by the gate for the sample's recipient (see `_sms_segment_recipient`)."""
        self.ensure_one()
        sample = self._sms_segment_sample()
        recipient = self._sms_segment_recipient(sample)
        body = self._sms_segment_body(recipient["lang"])
        render_lang = self._sms_segment_render_lang(recipient["lang"])
        renderer = self.with_context(**self._sms_segment_render_context())
        if render_lang:
            renderer = renderer.with_context(lang=render_lang)
        text = renderer._sms_segment_render(body, sample)
        text = self._sms_segment_adapt(text)
        footer = self._sms_segment_footer()
        if footer:
            text = "%s\n%s" % (text, footer)
        text = self._sms_segment_before_gate(text)
        if self._sms_segment_marketing():
            text = self.env["sms.sms"]._sms_decorated_body(
                text, recipient["policy"], recipient["partner"],
                unsubscribe_marker=self._sms_segment_unsubscribe_marker())
        return text, recipient

    def _sms_segment_body(self, lang):
        return self[self._sms_segment_body_field()] or ""

    @api.model
    def _sms_segment_code_length(self):
        """Length of the code of a new link tracker: the shortest length whose codes are mostly still free
        (a new code starts at the minimal length and grows by one on each collision)."""
        self.env["link.tracker.code"].flush_model(["code"])
        used = dict(self.env.execute_query(SQL("SELECT length(code), count(*) FROM link_tracker_code GROUP BY 1")))
        size = LINK_TRACKER_MIN_CODE_LENGTH
        while used.get(size, 0) * 2 > _CODE_ALPHABET ** size:
            size += 1
        return size

    # ------------------------------------------------------------
    # Sample and its recipient
    # ------------------------------------------------------------

    def _sms_segment_sample_domain(self):
        return []

    def _sms_segment_sample_preferred(self, Model):
        """Records to sample first: those of a contact who receives marketing SMS (opted in)."""
        if Model._name == "res.partner":
            return [("sms_consent_state", "=", "opted_in")]
        partner = Model._fields.get("partner_id")
        if partner and partner.type == "many2one" and partner.comodel_name == "res.partner":
            return [("partner_id.sms_consent_state", "=", "opted_in")]
        return None

    def _sms_segment_sample(self):
        """A record of the render model to render the body with (None when there is no render model): the
        first one matching `_sms_segment_sample_domain`, one of an opted-in contact if there is one."""
        model = self.render_model
        if not model or model not in self.env:
            return None
        Model = self.env[model]
        domain = self._sms_segment_sample_domain()
        try:
            preferred = self._sms_segment_sample_preferred(Model)
            sample = Model.search(domain + preferred, limit=1) if preferred else Model
            return sample or Model.search(domain, limit=1)
        except AccessError:
            return Model

    def _sms_segment_recipient(self, sample):
        """Who the sample's SMS goes to, as the gate sees it: dict(number, partner, name, lang, policy).

        The partner is the one the gate decorates for: the first opted-in contact with the number, else the
        sample's own contact; the policy is the one in force today for the number's destination."""
        Partner = self.env["res.partner"].sudo().with_context(active_test=False)
        number, partner = False, Partner
        if sample and sample._name == "res.partner":
            number, partner = sample.sudo().sms_number, sample.sudo()  # as the mailing composer reads it
        elif sample and hasattr(type(sample), "_sms_get_recipients_info"):
            try:
                info = sample.sudo()._sms_get_recipients_info()[sample.id]
                number, partner = info["sanitized"], info["partner"].sudo()
            except (AccessError, KeyError, ValueError):
                number = False
        if number:
            # Same choice as the gate: the first opted-in contact of the number, in the default order.
            for candidate in Partner.search([("sms_number", "=", number)]):
                if candidate.sms_consent_state == "opted_in" and candidate.sms_number_valid \
                        and not candidate.sms_number_rejected:
                    partner = candidate
                    break
        Sms = self.env["sms.sms"]
        now = fields.Datetime.now()
        if number:
            country, state, __ = Sms._sms_destination(number, partner[:1])
        else:
            country, state = (partner[:1].country_id or self.env.company.country_id), self.env["res.country.state"]
        policy = self.env["sms.compliance.policy"]._for_destination(country, state, now)
        company = partner[:1].company_id or self.env.company
        name = sample.display_name if sample else False
        return {
            "number": number, "partner": partner[:1], "name": name, "policy": policy,
            "lang": self.env["res.partner"]._sms_recipient_lang(partner[:1], company=company),
        }

    # ------------------------------------------------------------
    # Rendering
    # ------------------------------------------------------------

    def _sms_segment_may_evaluate(self, template_src, model):
        """Whether the current user may run the (non-trivial) expressions of ``template_src``.

        ``sms.template`` renders unrestricted; its write() refuses dynamic placeholders from users outside
        the template editor group, but the counter renders before saving (onchange), so do the same check
        here instead of evaluating code the user is not allowed to store.
        """
        if not self._has_unsafe_expression_template_inline_template(template_src, model):
            return True
        return self.env.su or self.env.user.has_group("mail.group_mail_template_editor")

    def _sms_segment_safe_render(self, template_src, sample):
        """Render ``template_src`` on ``sample`` inside a savepoint; exceptions propagate."""
        self.env.flush_all()
        # flush=False: a flushing savepoint clears the whole cache on rollback, which would wipe the
        # values of the new record being edited in an onchange. Everything is flushed just above.
        with self.env.cr.savepoint(flush=False):
            rendered = self._render_template(template_src, sample._name, [sample.id])
        return str(rendered[sample.id] or "")

    def _sms_segment_render(self, body, sample=None):
        if not body:
            return ""
        if sample is None:
            sample = self._sms_segment_sample()
        if not sample or not self._sms_segment_may_evaluate(body, sample._name):
            return body
        try:
            return self._sms_segment_safe_render(body, sample)
        except Exception:  # any rendering failure: count the raw text
            _logger.debug("SMS segment counter: cannot render %s on %s", body, sample, exc_info=True)
            return body

    # ------------------------------------------------------------
    # Placeholder validation
    # ------------------------------------------------------------

    @api.model
    def _sms_segment_unwrap_error(self, error):
        """The original error of a rendering failure, without the renderer's UserError/ValueError wrappers."""
        seen = set()
        while id(error) not in seen:
            seen.add(id(error))
            if isinstance(error, UserError) and error.__cause__ is not None:
                error = error.__cause__
            elif (isinstance(error, ValueError) and " while evaluating" in str(error)
                  and error.__context__ is not None):
                error = error.__context__
            else:
                break
        return error

    @api.model
    def _sms_segment_structural_error(self, error):
        """Message of ``error`` when it is the placeholder's fault whatever the record, else None.

        Syntax errors, unknown names, forbidden code and unknown fields or methods of a record are refused;
        errors that depend on the sample's data (an empty field, a division by zero...) are not: another
        record may render fine, and the sample is only the first record found.
        """
        error = self._sms_segment_unwrap_error(error)
        if isinstance(error, SyntaxError):
            return "%s: %s" % (type(error).__name__, error.msg)
        if isinstance(error, NameError) and not isinstance(error, UnboundLocalError):
            return "%s: %s" % (type(error).__name__, error)
        if isinstance(error, AttributeError) and isinstance(getattr(error, "obj", None), models.BaseModel):
            return "%s: %s" % (type(error).__name__, error)
        if isinstance(error, ValueError) and "forbidden opcode" in str(error):
            return "%s: %s" % (type(error).__name__, error)
        return None

    def _sms_segment_static_error(self, expression, model):
        """Error of ``expression`` found without evaluating it (syntax, unknown field of a dotted path)."""
        try:
            compile(expression, "<placeholder>", "eval")
        except SyntaxError as e:
            return "SyntaxError: %s" % e.msg
        if not _DOTTED_PATH.match(expression):
            return None
        Model = self.env[model]
        for name in expression.split(".")[1:]:
            field = Model._fields.get(name)
            if field is None:
                if hasattr(Model, name):
                    return None  # a method or property: cannot follow further
                return "AttributeError: '%s' object has no attribute '%s'" % (Model._name, name)
            if not field.relational:
                return None
            Model = self.env[field.comodel_name]
        return None

    def _sms_placeholder_in_words(self, error, model):
        """The reason a placeholder fails, in the merchant's words rather than Python's."""
        description = self.env["ir.model"]._get(model).name or model
        attribute = re.search(r"'([\w.]+)' object has no attribute '(\w+)'", error)
        if attribute:
            target = self.env["ir.model"]._get(attribute.group(1)).name or attribute.group(1)
            return self.env._("%(model)s has no field “%(field)s”.", model=target, field=attribute.group(2))
        name = re.search(r"name '(\w+)' is not defined", error)
        if name:
            return self.env._(
                "“%(name)s” is unknown: a placeholder starts with object, e.g. {{ object.name }}.",
                name=name.group(1))
        if error.startswith("SyntaxError"):
            return self.env._("it is not a valid expression (%(detail)s).", detail=error.split(": ", 1)[-1])
        if "forbidden opcode" in error:
            return self.env._("it uses code that is not allowed in a placeholder.")
        return self.env._("%(error)s (on %(model)s)", error=error, model=description)

    def _sms_check_placeholders(self, field_name):
        """Refuse a body whose placeholders do not render on a sample record (or are not valid at all)."""
        if self.env.context.get("install_filename"):
            return  # module data: never block an install or upgrade on the current database contents
        for record in self:
            body = record[field_name]
            model = record.render_model
            if not body or not model or model not in self.env:
                continue
            for literal, __, __ in parse_inline_template(str(body)):
                unclosed = literal.find("{{")
                if unclosed >= 0:
                    raise ValidationError(self.env._(
                        "A placeholder is not closed: “%(start)s” needs “}}” at its end, e.g. {{ object.name }}.",
                        start=literal[unclosed:unclosed + 30].strip()))
                if "}}" in literal:
                    raise ValidationError(self.env._(
                        "“}}” without its “{{”: a placeholder is written {{ object.name }}."))
            expressions = [expr for __, expr, __ in parse_inline_template(str(body)) if expr]
            if not expressions:
                continue
            sample = record._sms_segment_sample()
            errors = []
            for expression in dict.fromkeys(expressions):
                placeholder = "{{ %s }}" % expression
                if sample and record._sms_segment_may_evaluate(placeholder, model):
                    try:
                        record._sms_segment_safe_render(placeholder, sample)
                        error = None
                    except AccessError:
                        error = None  # the user's rights, not the placeholder: Odoo's own checks apply
                    except Exception as e:
                        error = self._sms_segment_structural_error(e)
                        if not error:
                            _logger.debug("SMS placeholder %s fails on the sample %s", placeholder, sample,
                                          exc_info=True)
                else:
                    error = record._sms_segment_static_error(expression, model)
                if error:
                    errors.append((placeholder, error))
            if errors:
                description = self.env["ir.model"]._get(model).name or model
                raise ValidationError("\n".join(
                    self.env._("The placeholder %(placeholder)s cannot be used: %(reason)s",
                               placeholder=placeholder, reason=record._sms_placeholder_in_words(error, model))
                    for placeholder, error in errors
                ))
