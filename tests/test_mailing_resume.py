"""The production path of mailing queueing: chunks committed one by one (the testing flag turns the commits
off inside Odoo's own tests, so this runs Odoo in separate processes, as `odoo-bin shell`), a queueing killed
between two chunks, and the same mailing sent again resuming where it stopped, with no recipient twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid

import psycopg2
import pytest

RECIPIENTS, CHUNK = 10, 3  # chunks of 3, 3, 3 and 1: killed after the second commit


def odoo_shell(script: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    config, database = os.environ.get("SMSM_ODOO_CONF"), os.environ.get("SMSM_RPC_DB")
    if not config or not database:
        pytest.fail("SMSM_ODOO_CONF and SMSM_RPC_DB are not set: run the tests with `make test`")
    odoo_bin = os.path.join(os.environ.get("ODOO_SRC", "/opt/odoo18"), "odoo-bin")
    return subprocess.run(
        [sys.executable, odoo_bin, "shell", "-c", config, "-d", database, "--no-http", "--log-level=warn"],
        input=script, capture_output=True, text=True, timeout=timeout,
    )


def queued(mailing_id: int) -> tuple[int, int, int]:
    """(SMS, distinct recipients of those SMS, traces) of the mailing, read from the database itself."""
    with psycopg2.connect(dbname=os.environ["SMSM_RPC_DB"]) as conn, conn.cursor() as cr:
        cr.execute(
            "SELECT count(*), count(DISTINCT partner_id) FROM sms_sms WHERE mailing_id = %s", [mailing_id]
        )
        sms, recipients = cr.fetchone()
        cr.execute("SELECT count(*) FROM mailing_trace WHERE mass_mailing_id = %s", [mailing_id])
        (traces,) = cr.fetchone()
    conn.close()
    return sms, recipients, traces


# A mailing to {count} opted-in French contacts named "<label> <run> n", with its first lines of output: the
# code both scripts below start with (label and number prefix keep the two tests' contacts apart).
SEED = """from odoo.addons.sms_marketing_addon.models import mailing_mailing
mailing_mailing.QUEUE_CHUNK = {chunk}
env.cr.execute('''INSERT INTO res_partner (name, mobile, country_id, sms_number, sms_number_valid,
                                           sms_consent_state, active, type, autopost_bills, create_date,
                                           write_date)
                  SELECT '{label} {run} ' || n, '{prefix}' || lpad(n::text, 7, '0'), %s,
                         '{prefix}' || lpad(n::text, 7, '0'), TRUE, 'opted_in', TRUE, 'contact', 'ask',
                         now(), now()
                    FROM generate_series(1, {count}) AS n''', [env.ref('base.fr').id])
mailing = env['mailing.mailing'].create({{
    'subject': '{label} {run}', 'mailing_type': 'sms', 'body_plaintext': 'Offre {{{{ object.name }}}}',
    'mailing_model_id': env['ir.model']._get_id('res.partner'), 'sms_allow_unsubscribe': True,
    'mailing_domain': repr([('name', '=like', '{label} {run} %')]),
}})
env.cr.commit()
print('MAILING', mailing.id, flush=True)
"""

START = """
import os, signal
""" + SEED.replace("{label}", "Resume").replace("{prefix}", "+3371") + """Cursor = type(env.cr)
real_commit, commits = Cursor.commit, []
def commit_then_die(cr):
    real_commit(cr)
    commits.append(1)
    if len(commits) == 2:  # the second chunk is committed: killed before the third starts
        os.kill(os.getpid(), signal.SIGKILL)
Cursor.commit = commit_then_die
mailing.action_send_sms()
print('NOT KILLED', flush=True)
"""

RESUME = """
from odoo.addons.sms_marketing_addon.models import mailing_mailing
mailing_mailing.QUEUE_CHUNK = {chunk}
mailing = env['mailing.mailing'].browse({mailing_id})
print('REMAINING', len(mailing._get_remaining_recipients()), flush=True)
mailing.action_send_sms()
env.cr.commit()
print('LEFT', len(mailing._get_remaining_recipients()), flush=True)
"""


def test_a_mailing_killed_between_two_chunks_resumes_without_duplicates() -> None:
    run = uuid.uuid4().hex[:8]
    first = odoo_shell(START.format(chunk=CHUNK, run=run, count=RECIPIENTS))
    assert first.returncode == -signal.SIGKILL, (first.returncode, first.stdout, first.stderr[-3000:])
    assert "NOT KILLED" not in first.stdout
    [mailing_line] = [line for line in first.stdout.splitlines() if line.startswith("MAILING ")]
    mailing_id = int(mailing_line.split()[1])
    # What the two committed chunks queued survived the kill; nothing of the third.
    assert queued(mailing_id) == (2 * CHUNK, 2 * CHUNK, 2 * CHUNK)

    second = odoo_shell(RESUME.format(chunk=CHUNK, mailing_id=mailing_id))
    assert second.returncode == 0, (second.stdout, second.stderr[-3000:])
    assert f"REMAINING {RECIPIENTS - 2 * CHUNK}" in second.stdout
    assert "LEFT 0" in second.stdout
    # Every recipient queued once: one SMS and one trace each, none twice.
    assert queued(mailing_id) == (RECIPIENTS, RECIPIENTS, RECIPIENTS)


FAIL_WRITER = """
import threading
""" + SEED.replace("{label}", "Writer").replace("{prefix}", "+3372") + """Cursor = type(env.cr)
real_execute, writes = Cursor.execute, []
def execute(cr, query, params=None, log_exceptions=True):
    if threading.current_thread().name == 'sms-queue-writer':
        writes.append(1)
        if len(writes) == 2:  # the writer's second chunk (the mailing's third) fails
            raise RuntimeError('disk full')
    return real_execute(cr, query, params, log_exceptions)
Cursor.execute = execute
try:
    mailing.action_send_sms()
except RuntimeError as error:
    print('RAISED', error, flush=True)
else:
    print('NOT RAISED', flush=True)
"""


def test_a_chunk_that_fails_to_be_written_stops_the_queueing_with_its_error() -> None:
    """From the second chunk on, chunks are written by a thread of their own: a chunk that fails there is not
    lost in silence; the queueing stops with the error, the chunks committed before stay, and sending again
    queues the rest, nobody twice."""
    run = uuid.uuid4().hex[:8]
    first = odoo_shell(FAIL_WRITER.format(chunk=CHUNK, run=run, count=RECIPIENTS))
    assert first.returncode == 0, (first.stdout, first.stderr[-3000:])
    assert "RAISED disk full" in first.stdout, (first.stdout, first.stderr[-3000:])
    [mailing_line] = [line for line in first.stdout.splitlines() if line.startswith("MAILING ")]
    mailing_id = int(mailing_line.split()[1])
    assert queued(mailing_id) == (2 * CHUNK, 2 * CHUNK, 2 * CHUNK)

    second = odoo_shell(RESUME.format(chunk=CHUNK, mailing_id=mailing_id))
    assert second.returncode == 0, (second.stdout, second.stderr[-3000:])
    assert f"REMAINING {RECIPIENTS - 2 * CHUNK}" in second.stdout
    assert "LEFT 0" in second.stdout
    assert queued(mailing_id) == (RECIPIENTS, RECIPIENTS, RECIPIENTS)
