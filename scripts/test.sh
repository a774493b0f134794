#!/usr/bin/env bash
# One-command test run: `make test` (or `bash scripts/test.sh [pytest args]`).
#  1. lint the service (ruff) and validate docker-compose.yml (docker-compose config, no engine needed);
#  2. build the test database: a cached template with the addon's Odoo dependencies (rebuilt when that
#     list changes), copied, then the addon installed fresh and upgraded once (-u) to prove upgrades work;
#  3. ONE pytest run: the addon's Odoo tests (pytest-odoo, in-process Odoo with an HTTP server) and the
#     service's tests (tests/, against a real Odoo HTTP server started by a fixture on a copy of the DB);
#  4. the stock bridges (sms_marketing_stock, sms_marketing_website_sale_stock): a second template (the first
#     plus website_sale_stock), a second database ${DB}_stock where installing the addon pulls both bridges in
#     (auto_install, checked), and a second pytest run over the bridges' tests and their service test. The main
#     database never has stock (it would change the other tests and Odoo's suites).
#     SMSM_STOCK=auto (default): step 4 only when no pytest arguments are given (`make test`);
#     SMSM_STOCK=only: steps 1-2 and 4, the pytest arguments going to the bridges' run; SMSM_STOCK=0: no step 4.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
ODOO_SRC=${ODOO_SRC:-/opt/odoo18}
DB=${SMSM_TEST_DB:-smsm_test}
VENV=$ROOT/.venv
export PGOPTIONS='-c client_min_messages=warning'
say() { printf '==> %s\n' "$*"; }

[[ -x $VENV/bin/python ]] || { echo "error: no .venv here: run 'make setup' first" >&2; exit 2; }
grep -qs '^version_info = (18, 0' "$ODOO_SRC/odoo/release.py" \
    || { echo "error: no Odoo 18 source at ODOO_SRC=$ODOO_SRC: see README (make setup says how)" >&2; exit 2; }
bash scripts/pg_ready.sh >/dev/null

say "ruff (service code)"
"$VENV/bin/ruff" check sync_service tests bench resilience
say "docker-compose.yml"
if command -v docker-compose >/dev/null; then
    env_file=.env; [[ -f $env_file ]] || env_file=.env.example
    docker-compose --env-file "$env_file" -f docker-compose.yml config -q && echo "docker-compose.yml is valid"
    docker-compose --env-file "$env_file" -f docker-compose.yml -f docker-compose.demo.yml --profile demo config -q \
        && echo "docker-compose.demo.yml is valid"
else
    echo "error: docker-compose is not installed (make setup installs it)" >&2; exit 2
fi

# Odoo configuration for the tests: Unix socket (no db_host), no cron threads, data under .venv.
# One configuration per test database, so that runs on several databases (worktrees) do not share one.
CONF=$VENV/odoo-test-$DB.conf
DATA_DIR=$VENV/odoo-data
mkdir -p "$DATA_DIR"
cat >"$CONF" <<CONF
[options]
addons_path = $ODOO_SRC/odoo/addons,$ROOT
data_dir = $DATA_DIR
db_host = False
db_port = False
max_cron_threads = 0
http_interface = 127.0.0.1
http_port = ${SMSM_HTTP_PORT:-8069}
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
    if ! odoo "$@" --stop-after-init --logfile="$log"; then cat "$log"; echo "error: odoo $* failed" >&2; exit 1; fi
    if grep -E ' (ERROR|CRITICAL) ' "$log"; then echo "error: odoo $* logged errors (above)" >&2; exit 1; fi
    grep ' WARNING ' "$log" | grep -v 'WARNING.*(werkzeug|longpolling|websocket)' || true
    rm -f "$log"
}

deps=$("$VENV/bin/python" -c "import ast;m=ast.literal_eval(open('sms_marketing_addon/__manifest__.py').read());print(','.join(sorted(m['depends'])))")
TEMPLATE="smsm_tmpl_$(printf '%s' "$deps" | sha1sum | cut -c1-10)"
if ! psql -d postgres -tAc "select 1 from pg_database where datname='$TEMPLATE'" | grep -q 1; then
    say "building template database $TEMPLATE with: $deps (slow, once)"
    dropdb --if-exists "${TEMPLATE}_partial"
    run_odoo_checked -d "${TEMPLATE}_partial" -i "$deps"
    psql -d postgres -qc "ALTER DATABASE \"${TEMPLATE}_partial\" RENAME TO \"$TEMPLATE\""
    rm -rf "$DATA_DIR/filestore/$TEMPLATE"
    [[ ! -d $DATA_DIR/filestore/${TEMPLATE}_partial ]] || mv "$DATA_DIR/filestore/${TEMPLATE}_partial" "$DATA_DIR/filestore/$TEMPLATE"
fi

STOCK=${SMSM_STOCK:-auto}
if [[ $STOCK == auto ]]; then if (($#)); then STOCK=0; else STOCK=1; fi; fi
export SMSM_ODOO_CONF=$CONF ODOO_SRC
rc=0
if [[ $STOCK != only ]]; then
    say "test database $DB: addon installed fresh from $TEMPLATE, then upgraded"
    copy_db "$TEMPLATE" "$DB"
    run_odoo_checked -d "$DB" -i sms_marketing_addon
    run_odoo_checked -d "$DB" -u sms_marketing_addon
    if psql -d "$DB" -tAc "select name from ir_module_module where state = 'installed'
                           and name in ('sale_stock', 'sms_marketing_stock', 'sms_marketing_website_sale_stock')" | grep .; then
        echo "error: stock (or a stock bridge) is installed in $DB: the main test database must not have it" >&2
        exit 1
    fi
    copy_db "$DB" "${DB}_rpc"

    say "pytest: addon tests inside Odoo + service tests against a real Odoo server"
    set +e
    SMSM_RPC_DB=${DB}_rpc "$VENV/bin/python" -m pytest --odoo-config="$CONF" --odoo-database="$DB" --odoo-http "$@"
    rc=$?
    set -e
    if [[ $rc == 5 ]]; then echo "error: pytest ran no test" >&2; fi
fi
[[ $STOCK != 0 ]] || exit $rc

# The stock bridges: their own template (the main one plus website_sale_stock and its dependencies) and DB.
BRIDGES=(sms_marketing_stock sms_marketing_website_sale_stock)
STOCK_DEPS=website_sale_stock
STOCK_TEMPLATE="smsm_tmpl_stock_$(printf '%s' "$deps,$STOCK_DEPS" | sha1sum | cut -c1-10)"
if ! psql -d postgres -tAc "select 1 from pg_database where datname='$STOCK_TEMPLATE'" | grep -q 1; then
    say "building template database $STOCK_TEMPLATE: $TEMPLATE + $STOCK_DEPS (once)"
    copy_db "$TEMPLATE" "${STOCK_TEMPLATE}_partial"
    run_odoo_checked -d "${STOCK_TEMPLATE}_partial" -i "$STOCK_DEPS"
    psql -d postgres -qc "ALTER DATABASE \"${STOCK_TEMPLATE}_partial\" RENAME TO \"$STOCK_TEMPLATE\""
    rm -rf "$DATA_DIR/filestore/$STOCK_TEMPLATE"
    [[ ! -d $DATA_DIR/filestore/${STOCK_TEMPLATE}_partial ]] \
        || mv "$DATA_DIR/filestore/${STOCK_TEMPLATE}_partial" "$DATA_DIR/filestore/$STOCK_TEMPLATE"
fi

say "test database ${DB}_stock: the addon installed fresh from $STOCK_TEMPLATE pulls the stock bridges in, then upgraded"
copy_db "$STOCK_TEMPLATE" "${DB}_stock"
run_odoo_checked -d "${DB}_stock" -i sms_marketing_addon
for bridge in "${BRIDGES[@]}"; do
    state=$(psql -d "${DB}_stock" -tAc "select state from ir_module_module where name='$bridge'")
    if [[ $state != installed ]]; then
        echo "error: $bridge is '${state:-unknown}' in ${DB}_stock: it should install itself (auto_install)" >&2
        exit 1
    fi
    echo "$bridge installed itself (auto_install)"
done
run_odoo_checked -d "${DB}_stock" -u sms_marketing_addon,"$(IFS=,; echo "${BRIDGES[*]}")"
echo "the addon and both bridges upgraded"
copy_db "${DB}_stock" "${DB}_stock_rpc"

say "pytest: the stock bridges' tests inside Odoo + their service test"
# SMSM_STOCK=only: arguments naming tests replace the bridges' tests, options (-q, -k ...) are added to them.
stock_tests=("${BRIDGES[@]/%//tests}" tests/test_stock_bridges.py)
if [[ $STOCK == only ]]; then
    for arg in "$@"; do [[ $arg == -* ]] || { stock_tests=(); break; }; done
    stock_tests+=("$@")
fi
set +e
SMSM_RPC_DB=${DB}_stock_rpc SMSM_STOCK_BRIDGES=1 "$VENV/bin/python" -m pytest --odoo-config="$CONF" \
    --odoo-database="${DB}_stock" --odoo-http "${stock_tests[@]}"
stock_rc=$?
set -e
if [[ $stock_rc == 5 ]]; then echo "error: pytest ran no test of the stock bridges" >&2; fi
if [[ $rc != 0 ]]; then exit $rc; fi
exit $stock_rc
