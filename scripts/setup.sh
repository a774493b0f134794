#!/usr/bin/env bash
# One-command set-up: `make setup` (or `bash scripts/setup.sh`).
# Makes .venv (Python 3.11) with Odoo 18's requirements, the sync service and its test tools,
# makes `import odoo` work in it, and makes sure PostgreSQL answers with a role for this user.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
ODOO_SRC=${ODOO_SRC:-/opt/odoo18}
PYTHON=${PYTHON:-python3.11}

if ! grep -qs '^version_info = (18, 0' "$ODOO_SRC/odoo/release.py"; then
    echo "error: no Odoo 18 source at ODOO_SRC=$ODOO_SRC (odoo/release.py missing or not 18.0)." >&2
    echo "Get one with: git clone --depth 1 -b 18.0 https://github.com/odoo/odoo $ODOO_SRC  (or run the product with: docker compose up)" >&2
    exit 2
fi

say() { printf '==> %s\n' "$*"; }

# 1. System packages the tests use: docker-compose (validates docker-compose.yml without an engine),
#    chromium (Odoo browser tours). Installed only when missing and when we may.
missing=()
command -v docker-compose >/dev/null || missing+=(docker-compose)
command -v chromium >/dev/null || missing+=(chromium)
if ((${#missing[@]})); then
    if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
        say "installing ${missing[*]} (Debian packages)"
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    else
        echo "warning: please install ${missing[*]} (needed by some tests)" >&2
    fi
fi

# 2. The virtual environment.
if [[ ! -x .venv/bin/python ]]; then
    say "creating .venv with $PYTHON"
    "$PYTHON" -m venv .venv
fi
PIP=(.venv/bin/python -m pip --disable-pip-version-check -q)
"${PIP[@]}" install -U "pip>=24" wheel

# Odoo's pinned sdists (e.g. cbor2, psycopg2 on 3.11) need an older setuptools (with pkg_resources)
# in their build environment: pip >= 25.3 takes that from --build-constraint, older pip from PIP_CONSTRAINT.
constraints=$ROOT/.venv/build-constraints.txt
echo 'setuptools<70' >"$constraints"
export PIP_BUILD_CONSTRAINT=$constraints PIP_CONSTRAINT=$constraints

# 3. Odoo's own requirements, minus python-ldap (needs LDAP headers; only auth_ldap uses it).
grep -v -i '^python-ldap' "$ODOO_SRC/requirements.txt" >.venv/odoo-requirements.txt
stamp=.venv/odoo-requirements.installed
if ! cmp -s .venv/odoo-requirements.txt "$stamp"; then
    say "installing Odoo 18's Python requirements from $ODOO_SRC/requirements.txt"
    "${PIP[@]}" install -r .venv/odoo-requirements.txt
    cp .venv/odoo-requirements.txt "$stamp"
fi

# 4. `import odoo` from the venv: a .pth file naming the Odoo source.
site=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
echo "$ODOO_SRC" >"$site/odoo-src.pth"

# 5. The sync service (editable) with its test extras; phonenumbers for Odoo's phone validation.
say "installing the sync service and test tools"
"${PIP[@]}" install -e ".[test]"
.venv/bin/python -c 'import odoo, phonenumbers, odoorpc; print("odoo", odoo.release.version, "| phonenumbers", phonenumbers.__version__)'

# 6. PostgreSQL answering on its Unix socket, with a role for this user.
bash scripts/pg_ready.sh

# 7. The demo's template database (Odoo's dependencies with their demo data), built once and cached in
#    PostgreSQL (a few minutes the first time), so that `make demo` shows its first SMS about a minute in.
say "demo template database (once; 'make demo' copies it)"
bash scripts/demo.sh --prepare
say "set-up done: run 'make test', or 'make demo' to see it work"
