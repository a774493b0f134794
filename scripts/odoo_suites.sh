#!/usr/bin/env bash
# `make odoo-suites`: Odoo's own SMS test suites (sms, mass_mailing_sms, test_mail_sms, test_mass_mailing) on a
# database where sms_marketing_addon is installed, every module loaded (docs/odoo-suites.md).
#  1. a cached template: the test template of scripts/test.sh (the addon's Odoo dependencies) plus Odoo's test
#     modules test_mail_sms and test_mass_mailing (built once, ~3 min; the test template is built if missing);
#  2. a copy of it, the addon installed (no test runs while installing);
#  3. scripts/odoo_suites.py: the whole registry loaded, then the at_install and post_install tests of the four
#     modules, HTTP server up for HttpCase tests; fails on a failing test not listed, with its reason, in
#     scripts/odoo_suites_expected.csv.
# WITHOUT_ADDON=1: the same run on the same template without the addon (what fails in Odoo's suites here anyway).
# Extra arguments go to odoo_suites.py, e.g. --tags /test_mail_sms:TestSMSPost.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
ODOO_SRC=${ODOO_SRC:-/opt/odoo18}
VENV=$ROOT/.venv
PORT=${SMSM_HTTP_PORT:-8069}
DB=${SMSM_SUITES_DB:-smsm_odoo_suites}
SUITES=sms,mass_mailing_sms,test_mail_sms,test_mass_mailing
TEST_MODULES=test_mail_sms,test_mass_mailing
export PGOPTIONS='-c client_min_messages=warning'
say() { printf '==> %s\n' "$*"; }
t0=$(date +%s)

[[ -x $VENV/bin/python ]] || { echo "error: no .venv here: run 'make setup' first" >&2; exit 2; }
grep -qs '^version_info = (18, 0' "$ODOO_SRC/odoo/release.py" \
    || { echo "error: no Odoo 18 source at ODOO_SRC=$ODOO_SRC: see README (make setup says how)" >&2; exit 2; }
bash scripts/pg_ready.sh >/dev/null

CONF=$VENV/odoo-suites-$DB.conf
DATA_DIR=$VENV/odoo-data
LOG_DIR=$VENV/odoo-suites
mkdir -p "$DATA_DIR" "$LOG_DIR"
cat >"$CONF" <<CONF
[options]
addons_path = $ODOO_SRC/odoo/addons,$ROOT
data_dir = $DATA_DIR
db_host = False
db_port = False
max_cron_threads = 0
http_interface = 127.0.0.1
http_port = $PORT
without_demo = all
log_level = warn
CONF

odoo() { "$VENV/bin/python" "$ODOO_SRC/odoo-bin" -c "$CONF" "$@"; }
copy_db() {  # copy_db SRC DST: database and filestore
    dropdb --if-exists "$2"
    rm -rf "$DATA_DIR/filestore/$2"
    createdb -T "$1" "$2"
    [[ ! -d $DATA_DIR/filestore/$1 ]] || cp -a "$DATA_DIR/filestore/$1" "$DATA_DIR/filestore/$2"
}
run_odoo_checked() {  # run Odoo, fail on a non-zero exit or an ERROR/CRITICAL line in its log
    local log; log=$(mktemp)
    if ! odoo "$@" --stop-after-init --logfile="$log"; then tail -50 "$log"; echo "error: odoo $* failed" >&2; exit 1; fi
    if grep -E ' (ERROR|CRITICAL) ' "$log"; then echo "error: odoo $* logged errors (above)" >&2; exit 1; fi
    rm -f "$log"
}
has_db() { psql -d postgres -tAc "select 1 from pg_database where datname='$1'" | grep -q 1; }

deps=$("$VENV/bin/python" -c "import ast;m=ast.literal_eval(open('sms_marketing_addon/__manifest__.py').read());print(','.join(sorted(m['depends'])))")
BASE="smsm_tmpl_$(printf '%s' "$deps" | sha1sum | cut -c1-10)"
TEMPLATE="smsm_suites_tmpl_$(printf '%s+%s' "$deps" "$TEST_MODULES" | sha1sum | cut -c1-10)"
if ! has_db "$TEMPLATE"; then
    if ! has_db "$BASE"; then
        say "building template database $BASE with: $deps (slow, once)"
        dropdb --if-exists "${BASE}_partial"
        run_odoo_checked -d "${BASE}_partial" -i "$deps"
        psql -d postgres -qc "ALTER DATABASE \"${BASE}_partial\" RENAME TO \"$BASE\""
        rm -rf "$DATA_DIR/filestore/$BASE"
        [[ ! -d $DATA_DIR/filestore/${BASE}_partial ]] || mv "$DATA_DIR/filestore/${BASE}_partial" "$DATA_DIR/filestore/$BASE"
    fi
    say "building template database $TEMPLATE: $BASE + $TEST_MODULES (slow, once)"
    copy_db "$BASE" "${TEMPLATE}_partial"
    run_odoo_checked -d "${TEMPLATE}_partial" -i "$TEST_MODULES"
    psql -d postgres -qc "ALTER DATABASE \"${TEMPLATE}_partial\" RENAME TO \"$TEMPLATE\""
    rm -rf "$DATA_DIR/filestore/$TEMPLATE"
    [[ ! -d $DATA_DIR/filestore/${TEMPLATE}_partial ]] || mv "$DATA_DIR/filestore/${TEMPLATE}_partial" "$DATA_DIR/filestore/$TEMPLATE"
fi

copy_db "$TEMPLATE" "$DB"
runner=(--expected scripts/odoo_suites_expected.csv)
if [[ -n ${WITHOUT_ADDON:-} ]]; then
    say "database $DB: $TEMPLATE, WITHOUT the addon"
    runner=()
else
    say "database $DB: $TEMPLATE + sms_marketing_addon"
    run_odoo_checked -d "$DB" -i sms_marketing_addon
fi

LOG=$LOG_DIR/$DB.log
rm -f "$LOG"
say "Odoo's tests of $SUITES, whole registry loaded (log: $LOG)"
set +e
"$VENV/bin/python" scripts/odoo_suites.py -c "$CONF" -d "$DB" --modules "$SUITES" --http-port "$PORT" \
    --logfile "$LOG" --results "$LOG_DIR/$DB.failing" "${runner[@]}" "$@"
rc=$?
set -e
echo "odoo-suites: $(( $(date +%s) - t0 )) s in all, exit $rc (failing tests: $LOG_DIR/$DB.failing)"
exit $rc
