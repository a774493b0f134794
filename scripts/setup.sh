#!/usr/bin/env bash
# One-command set-up: `make setup` (or `bash scripts/setup.sh`); `V=1 make setup` shows everything.
# Gets the Odoo 18.0 source when $ODOO_SRC holds none, makes .venv (Python 3.11) with Odoo 18's requirements,
# the sync service and its test tools, makes `import odoo` work in it, makes sure PostgreSQL answers with a
# role for this user, and builds the demo's template database once.
# Quiet by default: one line per step with its duration; what the steps print goes to .setup.log, shown
# (its end) only when a step fails.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export ODOO_SRC=${ODOO_SRC:-/opt/odoo18}
PYTHON=${PYTHON:-python3.11}
LOG=$ROOT/.setup.log
VERBOSE=${V:-0}
: >"$LOG"
exec 3>&2  # warnings that must reach the person even in quiet mode

step() {  # step "what" command...: run it, quietly unless V=1, and say how long it took
    local what=$1; shift
    local started=$SECONDS
    if [[ $VERBOSE == 1 ]]; then
        printf '==> %s\n' "$what"
        "$@" 2>&1 | tee -a "$LOG"
        local rc=${PIPESTATUS[0]}
    else
        local rc=0
        "$@" >>"$LOG" 2>&1 || rc=$?
    fi
    if [[ $rc != 0 ]]; then
        printf 'FAILED: %s (exit %s). The end of its log (all of it in %s):\n' "$what" "$rc" "$LOG" >&2
        tail -n 25 "$LOG" >&2
        exit "$rc"
    fi
    printf '==> %-58s %4ss\n' "$what" "$((SECONDS - started))"
}

system_packages() {  # docker-compose (validates docker-compose.yml without an engine), chromium (Odoo's tours)
    local missing=()
    command -v docker-compose >/dev/null || missing+=(docker-compose)
    command -v chromium >/dev/null || missing+=(chromium)
    ((${#missing[@]})) || { echo "all present"; return 0; }
    if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
    else
        echo "warning: please install ${missing[*]} (needed by some tests)" >&3
    fi
}

make_venv() {
    [[ -x .venv/bin/python ]] || "$PYTHON" -m venv .venv
    .venv/bin/python -m pip --disable-pip-version-check -q install -U "pip>=24" wheel
}

PIP=(.venv/bin/python -m pip --disable-pip-version-check -q)

odoo_requirements() {
    # Odoo's pinned sdists (e.g. cbor2, psycopg2 on 3.11) need an older setuptools (with pkg_resources) in their
    # build environment: pip >= 25.3 takes that from --build-constraint, older pip from PIP_CONSTRAINT.
    local constraints=$ROOT/.venv/build-constraints.txt
    echo 'setuptools<70' >"$constraints"
    export PIP_BUILD_CONSTRAINT=$constraints PIP_CONSTRAINT=$constraints
    # Minus python-ldap (needs LDAP headers; only auth_ldap uses it).
    grep -v -i '^python-ldap' "$ODOO_SRC/requirements.txt" >.venv/odoo-requirements.txt
    local stamp=.venv/odoo-requirements.installed
    if cmp -s .venv/odoo-requirements.txt "$stamp"; then echo "already installed"; return 0; fi
    "${PIP[@]}" install -r .venv/odoo-requirements.txt
    cp .venv/odoo-requirements.txt "$stamp"
}

service_and_tools() {
    # `import odoo` from the venv: a .pth file naming the Odoo source.
    local site
    site=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
    echo "$ODOO_SRC" >"$site/odoo-src.pth"
    "${PIP[@]}" install -e ".[test]"
    # The venv's own setuptools (65, from venv) has a pkg_resources that cannot find wheels named the new way
    # (zope_interface-*.dist-info): Odoo's longpolling process (gevent, with --workers) then dies at import
    # and is restarted for ever. A newer one (still with pkg_resources, whose warnings Odoo silences) finds it.
    PIP_CONSTRAINT= PIP_BUILD_CONSTRAINT= "${PIP[@]}" install "setuptools>=75,<81"
    .venv/bin/python -c 'import odoo, phonenumbers, odoorpc; print("odoo", odoo.release.version, "| phonenumbers", phonenumbers.__version__)'
}

step "Odoo 18.0 source ($ODOO_SRC)" bash scripts/odoo_source.sh
step "system packages (docker-compose, chromium)" system_packages
step "Python virtual environment (.venv)" make_venv
step "Odoo's Python requirements" odoo_requirements
step "the sync service and the test tools" service_and_tools
step "PostgreSQL running, with a role for $(id -un)" bash scripts/pg_ready.sh
step "the demo's template database (once; 'make demo' copies it)" bash scripts/demo.sh --prepare
echo "set-up done: 'make test' runs the tests, 'make demo' shows it working (log of this set-up: .setup.log)"
