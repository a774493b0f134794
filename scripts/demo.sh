#!/usr/bin/env bash
# The README's "run it" command: `make demo` (or `bash scripts/demo.sh`).
# On a machine with the Odoo 18 source and PostgreSQL, after `make setup`:
#  1. makes the demo database afresh (each run: dropped and copied from a template with the addon's Odoo
#     dependencies and Odoo's demo data, the addon installed with its demo data);
#  2. starts Odoo, the provider simulator and the sync service (every role), logs in $DEMO_DIR;
#  3. shows the simulator's log (every SMS the "provider" accepts) and the demo flow messages as Odoo records
#     them, until Ctrl-C or SIGTERM, which stop everything it started.
# Settings (environment): DEMO_DB (smsm_demo), DEMO_ODOO_PORT (8069), DEMO_SIM_PORT (9099),
# DEMO_SYNC_PORT (8080), DEMO_CRON_THREADS (1), DEMO_DIR (.venv/demo), ODOO_SRC (/opt/odoo18).
# `bash scripts/demo.sh --prepare` only builds the cached template (what `make setup` does, once), then exits.
set -euo pipefail
PREPARE=0
[[ ${1:-} != --prepare ]] || PREPARE=1
cd "$(dirname "$0")/.."
ROOT=$PWD
ODOO_SRC=${ODOO_SRC:-/opt/odoo18}
VENV=$ROOT/.venv
DB=${DEMO_DB:-smsm_demo}
ODOO_PORT=${DEMO_ODOO_PORT:-8069}
SIM_PORT=${DEMO_SIM_PORT:-9099}
SYNC_PORT=${DEMO_SYNC_PORT:-8080}
CRON_THREADS=${DEMO_CRON_THREADS:-1}  # a campaign sent from the screen is queued by Odoo's mailing cron
RUN=${DEMO_DIR:-$VENV/demo}
ADDON=sms_marketing_addon
export PGOPTIONS='-c client_min_messages=warning'
say() { printf '==> %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 2; }
started=$(date +%s)

[[ -x $VENV/bin/python ]] || die "no .venv here: run 'make setup' first"
grep -qs '^version_info = (18, 0' "$ODOO_SRC/odoo/release.py" \
    || die "no Odoo 18 source at ODOO_SRC=$ODOO_SRC: see README (make setup says how)"
[[ $DB =~ ^[A-Za-z0-9_]+$ ]] || die "DEMO_DB must be letters, digits and underscores"
for port in "$ODOO_PORT" "$SIM_PORT" "$SYNC_PORT"; do
    ((PREPARE == 0)) || break
    if (: <"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        die "port $port is in use: set DEMO_ODOO_PORT, DEMO_SIM_PORT or DEMO_SYNC_PORT"
    fi
done
bash scripts/pg_ready.sh >/dev/null

# ------------------------------------------------------------------ processes and clean-up
# Each process runs in its own session (setsid): its pid is its process group, which the clean-up signals
# as a whole. A terminal's Ctrl-C reaches this script (and make) only; the trap stops the rest in order.
declare -A PIDS=()
WATCHERS=()
stopping=0
cleanup() {
    local rc=${1:-0} name pid deadline
    ((stopping)) && return
    stopping=1
    trap '' INT TERM
    if ((${#PIDS[@]} == 0)); then exit "$rc"; fi
    echo
    say "stopping the sync service, Odoo, the simulator"
    for name in sync odoo simulator; do  # the service first: it finishes its sends and reports them to Odoo
        pid=${PIDS[$name]:-}
        [[ -n $pid ]] && kill -TERM -- "-$pid" 2>/dev/null || true
        if [[ -n $pid ]]; then
            deadline=$((SECONDS + 30))
            while kill -0 -- "-$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
            kill -KILL -- "-$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
        fi
    done
    for pid in "${WATCHERS[@]}"; do kill -- "-$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
    say "stopped; logs kept in $RUN"
    exit "$rc"
}
trap 'cleanup 130' INT
trap 'cleanup 143' TERM
trap 'cleanup $?' EXIT

start() {  # start NAME LOG COMMAND...: in its own session, output to LOG
    local name=$1 log=$2
    shift 2
    setsid "$@" >>"$log" 2>&1 </dev/null &
    PIDS[$name]=$!
}
show() {  # show PREFIX FILE [GREP-PATTERN]: print the file's lines as they come, prefixed (own process group)
    setsid bash -c 'tail -n +1 -F "$2" 2>/dev/null | grep --line-buffered -E -e "${3:-.}" | sed -u "s/^/[$1] /"' \
        show "$@" &
    WATCHERS+=($!)
}
wait_http() {  # wait_http URL SECONDS NAME
    local deadline=$((SECONDS + $2))
    until "$VENV/bin/python" -c "import sys,urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)" "$1" \
            2>/dev/null; do
        ((SECONDS < deadline)) || die "$3 did not answer on $1 within $2 s (log: $RUN)"
        kill -0 "${PIDS[$3]}" 2>/dev/null || die "$3 exited (log: $RUN/$3.log)"
        sleep 0.5
    done
}

# ------------------------------------------------------------------ the demo database
((PREPARE)) && RUN=$VENV/demo-prepare
rm -rf "$RUN"
mkdir -p "$RUN"
CONF=$RUN/odoo.conf
DATA_DIR=$VENV/odoo-data  # shared with `make test`: the template's filestore is copied from there
mkdir -p "$DATA_DIR"
cat >"$CONF" <<CONF
[options]
addons_path = $ODOO_SRC/odoo/addons,$ROOT
data_dir = $DATA_DIR
db_host = False
db_port = False
db_name = $DB
list_db = False
http_interface = 127.0.0.1
http_port = $ODOO_PORT
workers = 0
max_cron_threads = $CRON_THREADS
log_handler = :INFO,werkzeug:WARNING
CONF
odoo() { "$VENV/bin/python" "$ODOO_SRC/odoo-bin" -c "$CONF" "$@"; }
db_exists() { psql -d postgres -tAc "select 1 from pg_database where datname='$1'" | grep -q 1; }
copy_db() {  # copy_db SRC DST: database and filestore
    dropdb --if-exists --force "$2"
    rm -rf "$DATA_DIR/filestore/$2"
    createdb -T "$1" "$2"
    [[ ! -d $DATA_DIR/filestore/$1 ]] || cp -a "$DATA_DIR/filestore/$1" "$DATA_DIR/filestore/$2"
}
odoo_checked() {  # odoo_checked LOG ARGS...: run Odoo to completion, fail on an error in its log
    local log=$1
    shift
    if ! odoo "$@" --stop-after-init --logfile="$log" --log-handler=:WARNING 2>>"$log"; then
        tail -n 40 "$log" >&2
        die "odoo $* failed (log: $log)"
    fi
    if grep -E ' (ERROR|CRITICAL) ' "$log" >&2; then die "odoo $* logged errors (above; log: $log)"; fi
}

# The addon's Odoo dependencies with Odoo's demo data, installed once (cached like `make test`'s template, which
# has no demo data: Odoo loads a module's demo data only when its dependencies have theirs).
deps=$("$VENV/bin/python" -c "import ast;m=ast.literal_eval(open('$ADDON/__manifest__.py').read());print(','.join(sorted(m['depends'])))")
# With Odoo's own French translations loaded (the French demo contact and user see Odoo in French), and English
# kept active: on a new database `--load-language=fr_FR` alone leaves en_US inactive, and the demo's English-
# speaking customers then got their SMS in French (Jordan Miller's cart reminder, seen).
LANGS=en_US,fr_FR
TEMPLATE=smsm_demo_tmpl_$(printf '%s' "$deps $LANGS" | sha1sum | cut -c1-10)
if ! db_exists "$TEMPLATE"; then
    say "building the template database $TEMPLATE: $deps with demo data (slow, once; log $RUN/template.log)"
    dropdb --if-exists --force "${TEMPLATE}_partial"
    rm -rf "$DATA_DIR/filestore/${TEMPLATE}_partial"
    odoo_checked "$RUN/template.log" -d "${TEMPLATE}_partial" -i "$deps" --load-language="$LANGS"
    psql -d postgres -qc "ALTER DATABASE \"${TEMPLATE}_partial\" RENAME TO \"$TEMPLATE\""
    rm -rf "$DATA_DIR/filestore/$TEMPLATE"
    [[ ! -d $DATA_DIR/filestore/${TEMPLATE}_partial ]] \
        || mv "$DATA_DIR/filestore/${TEMPLATE}_partial" "$DATA_DIR/filestore/$TEMPLATE"
fi
if ((PREPARE)); then
    say "demo template $TEMPLATE ready: 'make demo' runs the demo"
    exit 0
fi
say "demo database $DB: a copy of $TEMPLATE, $ADDON installed with its demo data (log $RUN/install.log)"
copy_db "$TEMPLATE" "$DB"
odoo_checked "$RUN/install.log" -d "$DB" -i "$ADDON"

# ------------------------------------------------------------------ the processes
say "starting the provider simulator, Odoo and the sync service"
start simulator "$RUN/simulator.log" "$VENV/bin/python" -u -m sync_service.simulator --port "$SIM_PORT"
start odoo "$RUN/odoo.log" "$VENV/bin/python" "$ODOO_SRC/odoo-bin" -c "$CONF"
wait_http "http://127.0.0.1:$ODOO_PORT/web/health" 120 odoo
DEMO_WEBHOOK_BASE_URL=http://127.0.0.1:$SYNC_PORT "$VENV/bin/python" scripts/demo_setup.py "http://127.0.0.1:$ODOO_PORT" "$DB" "http://127.0.0.1:$SIM_PORT" \
    | sed 's/^/    /'
# The service runs in $RUN: no .env from the working directory; a fresh store each run (the database is new).
(
    cd "$RUN"
    export SMS_SYNC_ODOO_URL=http://127.0.0.1:$ODOO_PORT SMS_SYNC_ODOO_DB=$DB \
        SMS_SYNC_ODOO_LOGIN=sms-sync SMS_SYNC_ODOO_PASSWORD=demo-sync-password \
        SMS_SYNC_PUBLIC_BASE_URL=http://127.0.0.1:$SYNC_PORT SMS_SYNC_LISTEN_HOST=127.0.0.1 \
        SMS_SYNC_LISTEN_PORT=$SYNC_PORT SMS_SYNC_STORE_URL=sqlite:///$RUN/sync.db SMS_SYNC_POLL_INTERVAL=1 \
        SMS_SYNC_WORKER_ID=demo
    exec setsid "$VENV/bin/sms-sync" run >>"$RUN/sync.log" 2>&1 </dev/null
) &
PIDS[sync]=$!
wait_http "http://127.0.0.1:$SYNC_PORT/healthz" 60 sync

cat <<BANNER

  Odoo            http://127.0.0.1:$ODOO_PORT   login admin / password admin   (database $DB)
                  SMS Marketing > Flows > Messages: the demo cart reminders; Reporting > Sent SMS
  Simulator       http://127.0.0.1:$SIM_PORT     (Twilio/Plivo/Vonage APIs; prints each SMS it accepts)
  Sync service    http://127.0.0.1:$SYNC_PORT/healthz   (all roles, Odoo user sms-sync)
  Logs            $RUN/{odoo,simulator,sync}.log

  Two demo carts (France, United States) get their first reminder 1 minute after the install: watch the
  [simulator] lines below. Ctrl-C stops everything.

BANNER
show simulator "$RUN/simulator.log"
show sync "$RUN/sync.log" '"level": "(WARNING|ERROR|CRITICAL)"'
show odoo "$RUN/odoo.log" ' (ERROR|CRITICAL) '

# ------------------------------------------------------------------ watch until stopped
declare -A seen=()
first=1
while true; do
    for name in "${!PIDS[@]}"; do
        kill -0 "${PIDS[$name]}" 2>/dev/null || { echo "error: $name exited (log: $RUN/$name.log)" >&2; cleanup 1; }
    done
    rows=$(psql -d "$DB" -tAF '|' -c "
        SELECT m.id, m.state || coalesce(' (held: ' || q.sms_defer_reason || ' until '
                   || to_char(q.sms_defer_until, 'YYYY-MM-DD HH24:MI') || ' UTC)', ''),
               o.name, m.number, s.delay || ' ' || s.delay_unit
          FROM sms_flow_message m JOIN sms_flow_enrollment e ON e.id = m.enrollment_id
          JOIN sale_order o ON o.id = e.order_id JOIN sms_flow_step s ON s.id = m.step_id
          LEFT JOIN sms_sms q ON q.uuid = m.sms_uuid AND q.state = 'outgoing' AND q.sms_defer_until IS NOT NULL
         ORDER BY m.id" 2>/dev/null || true)
    while IFS='|' read -r id state order number step; do
        [[ -n $id && ${seen[$id]:-} != "$state" ]] || continue
        seen[$id]=$state
        printf '[odoo] flow message %s: cart %s, step after %s, to %s: %s\n' "$id" "$order" "$step" "$number" "$state"
        if ((first)) && [[ $state == sent || $state == delivered ]]; then  # the first SMS the provider took
            first=0
            printf '[demo] first cart reminder sent %s s after the start\n' "$(($(date +%s) - started))"
        fi
    done <<<"$rows"
    sleep 2
done
