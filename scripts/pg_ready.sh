#!/usr/bin/env bash
# Make sure the local PostgreSQL answers on its Unix socket and that the current OS user has a
# superuser role there (Odoo creates and drops databases in tests). Safe to re-run.
set -euo pipefail
if ! pg_isready -q; then
    echo "==> starting PostgreSQL"
    if command -v pg_ctlcluster >/dev/null; then
        pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n1)" main start
    else
        echo "error: PostgreSQL is not answering and pg_ctlcluster is not here; start it yourself" >&2
        exit 2
    fi
    for _ in $(seq 1 30); do pg_isready -q && break; sleep 1; done
    pg_isready -q || { echo "error: PostgreSQL did not start" >&2; exit 2; }
fi
me=$(id -un)
if ! psql -d postgres -tAc "select 1" >/dev/null 2>&1; then
    echo "==> creating PostgreSQL role $me"
    if [[ $(id -u) == 0 ]]; then
        su postgres -c "createuser --superuser '$me'"
    else
        sudo -u postgres createuser --superuser "$me"
    fi
fi
psql -d postgres -tAc "select 'PostgreSQL ' || current_setting('server_version') || ' as ' || current_user"
