"""Run Odoo's own test suites on a database where every module is already installed, with the full registry.

`odoo-bin -i/-u X --test-tags /X` runs X's at_install tests while X is being loaded, before the modules that
come after it in the graph (sms_marketing_addon among them) are in the registry: they prove nothing about
them. Here the registry is loaded first, whole, with no test selected; then the at_install tests and the
post_install tests of the chosen modules run, in that order, in the same process, with an HTTP server for
HttpCase tests (as `odoo-bin --test-enable` starts one).

    python scripts/odoo_suites.py -c CONF -d DB --modules sms,mass_mailing_sms [--expected FILE]
                                  [--results FILE] [--http-port PORT]

Prints one line per failing test and a summary. With --expected (a CSV file `test,reason`), exits 1 when a
test fails that the file does not list, and names listed tests that passed (no longer different).
Test ids: `module.test_file.ClassName.test_method` (a failing subTest counts as its test; a class whose set-up
failed as `module.test_file.ClassName.setUpClass`).
"""
import argparse
import csv
import re
import sys
import threading
import time
import unittest

NO_TEST = "/__no_test_while_loading__"


def test_key(test):
    """`module.Class.method` for a test case, a subtest or Odoo's _ErrorHolder (set-up errors)."""
    while getattr(test, "test_case", None) is not None:  # a subtest (unittest's or Odoo's _SubTest)
        test = test.test_case
    if isinstance(test, unittest.TestCase) and hasattr(test, "_testMethodName"):
        return f"{short_module(type(test).__module__)}.{type(test).__qualname__}.{test._testMethodName}"
    # _ErrorHolder: "setUpClass (odoo.addons.sms.tests.test_x.TestClass)"
    match = re.match(r"(\w+) \(([\w.]+)\.(\w+)\)$", str(test))
    if match:
        return f"{short_module(match.group(2))}.{match.group(3)}.{match.group(1)}"
    return str(test)


def short_module(name):
    """odoo.addons.test_mail_sms.tests.test_sms_sms -> test_mail_sms.test_sms_sms"""
    return name.removeprefix("odoo.addons.").replace(".tests.", ".", 1)


def let_odoo_mock_see_bulk_sms():
    """Odoo's SMS mock (`MockSMS.mockSMSGateway`) records the SMS a test creates by wrapping
    `sms.sms.create`; the addon's bulk composer writes a mailing's SMS with one INSERT, never calling create.
    So that Odoo's assertions check those SMS (rather than fail on "sms.sms not found"), the SMS the bulk path
    returns are recorded the same way while a mock is active. Harness only: nothing of the addon changes."""
    from contextlib import contextmanager

    from odoo.addons.sms.tests import common as sms_common
    from odoo.addons.sms_marketing_addon.wizard.sms_composer import SmsComposer

    active = []
    mock_origin = sms_common.MockSMS.mockSMSGateway
    bulk_origin = SmsComposer._prepare_mass_sms

    @contextmanager
    def mock_sms_gateway(self, *args, **kwargs):
        with mock_origin(self, *args, **kwargs):
            active.append(self)
            try:
                yield
            finally:
                active.pop()

    def prepare_mass_sms(self, records, sms_record_values):
        sms = bulk_origin(self, records, sms_record_values)
        if active:
            test = active[-1]
            test._new_sms += sms.sudo() - test._new_sms
        return sms

    sms_common.MockSMS.mockSMSGateway = mock_sms_gateway
    SmsComposer._prepare_mass_sms = prepare_mass_sms


def send_through_odoo_iap():
    """Diagnosis only (--iap-stand-in): `sms.sms.send()`/`_send()` do Odoo's IAP sending again (which the
    tests mock), instead of leaving the SMS to the sync service. A test listed as "no IAP" that still fails
    then fails for another reason."""
    from odoo.addons.sms_marketing_addon.models.sms_sms import SmsSms

    def send(self, *args, **kwargs):
        return super(SmsSms, self).send(*args, **kwargs)

    def _send(self, *args, **kwargs):
        return super(SmsSms, self)._send(*args, **kwargs)

    SmsSms.send, SmsSms._send = send, _send


def read_expected(path):
    expected = {}
    with open(path, newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(line for line in handle if not line.startswith("#")):
            expected[row["test"].strip()] = row["reason"].strip()
    return expected


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-c", "--config", required=True)
    parser.add_argument("-d", "--database", required=True)
    parser.add_argument("--modules", required=True, help="comma-separated modules whose tests run")
    parser.add_argument("--tags", default="", help="extra test tags (odoo syntax), e.g. /sms:TestClass")
    parser.add_argument("--expected", help="CSV of expected failures: test,reason")
    parser.add_argument("--results", help="write every failing test id here, one a line")
    parser.add_argument("--iap-stand-in", action="store_true",
                        help="diagnosis: SMS sent through Odoo's (mocked) IAP as without the addon")
    parser.add_argument("--http-port", type=int)
    parser.add_argument("--logfile")
    args = parser.parse_args(argv)
    modules = [m.strip() for m in args.modules.split(",") if m.strip()]

    import odoo
    from odoo.tools import config

    odoo_args = ["-c", args.config, "-d", args.database, "--test-enable", f"--test-tags={NO_TEST}",
                 "--max-cron-threads=0", "--stop-after-init"]
    if args.http_port:
        odoo_args.append(f"--http-port={args.http_port}")
    if args.logfile:
        odoo_args.append(f"--logfile={args.logfile}")
    config.parse_config(odoo_args)
    odoo.service.server.load_server_wide_modules()
    server = odoo.service.server.ThreadedServer(odoo.http.root)
    odoo.service.server.server = server
    server.http_spawn()  # HttpCase tests (tours, controllers) need it, as under odoo-bin --test-enable

    from odoo.modules.registry import Registry
    from odoo.tests import loader
    from odoo.tests.result import OdooTestResult

    threading.current_thread().dbname = args.database
    started = time.time()
    registry = Registry.new(args.database)  # whole registry; the test tags select no test while loading
    missing = [m for m in modules if m not in registry._init_modules]
    if missing:
        print(f"error: not installed in {args.database}: {', '.join(missing)}", file=sys.stderr)
        return 2
    loaded = time.time()

    failing = {}

    class Result(OdooTestResult):
        def addError(self, test, err):
            failing.setdefault(test_key(test), "error")
            super().addError(test, err)

        def addFailure(self, test, err):
            failing.setdefault(test_key(test), "fail")
            super().addFailure(test, err)

    if "sms_marketing_addon" in registry._init_modules:
        let_odoo_mock_see_bulk_sms()
        if args.iap_stand_in:
            send_through_odoo_iap()
    config["test_tags"] = ",".join(f"/{m}" for m in modules) if not args.tags else args.tags
    total = Result()
    counts = {}
    for position in ("at_install", "post_install"):
        suite = loader.make_suite(modules, position)
        if position == "post_install" and suite.has_http_case():
            with registry.cursor() as cr:
                odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})["ir.qweb"]._pregenerate_assets_bundles()
        odoo.modules.module.current_test = True
        threading.current_thread().testing = True
        result = Result()
        suite(result)
        threading.current_thread().testing = False
        odoo.modules.module.current_test = False
        counts[position] = result.testsRun
        total.update(result)
    server.stop()
    done = time.time()

    expected = read_expected(args.expected) if args.expected else {}
    unexpected = sorted(k for k in failing if k not in expected)
    known = sorted(k for k in failing if k in expected)
    fixed = [] if args.tags else sorted(
        k for k in expected if k not in failing and k.split(".")[0] in modules)
    if args.results:
        with open(args.results, "w", encoding="utf-8") as handle:
            handle.writelines(f"{k}\n" for k in sorted(failing))
    for key in known:
        print(f"expected   {failing[key]:5}  {key}  ({expected[key]})")
    for key in unexpected:
        print(f"UNEXPECTED {failing[key]:5}  {key}")
    for key in fixed:
        print(f"passes now        {key}  (listed as expected: remove it from the list)")
    print(f"Odoo suites {', '.join(modules)} on {args.database}: {counts['at_install']} at_install + "
          f"{counts['post_install']} post_install tests, {len(failing)} failing "
          f"({len(known)} expected, {len(unexpected)} unexpected), {total.skipped} skipped; "
          f"registry {loaded - started:.0f} s, tests {done - loaded:.0f} s")
    return 1 if unexpected or (not expected and failing) else 0


if __name__ == "__main__":
    sys.exit(main())
