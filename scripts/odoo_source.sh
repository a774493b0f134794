#!/usr/bin/env bash
# The Odoo 18.0 source the project runs on, laid at $ODOO_SRC when it holds none.
#
#   bash scripts/odoo_source.sh            (make setup runs it)
#
# - $ODOO_SRC (default /opt/odoo18) already holding Odoo 18.0 (odoo/release.py): used as it is, never touched.
# - $ODOO_SRC holding something else that is not empty: refused (nothing is overwritten).
# - $ODOO_GIT_DIR set (a local git directory or clone holding Odoo 18.0): its HEAD is laid out, no network.
# - otherwise: a shallow fetch of Odoo's public 18.0 branch ($ODOO_REMOTE) as it was on the tested date below,
#   then checked: odoo/release.py must say 18.0.
set -euo pipefail

# The Odoo the project is tested on: the 18.0 branch as it stood at the end of this day (UTC). Change it here
# only after `make test` passed on that source.
ODOO_TESTED_DATE=2025-05-06
ODOO_REMOTE=${ODOO_REMOTE:-https://github.com/odoo/odoo.git}
ODOO_BRANCH=${ODOO_BRANCH:-18.0}
ODOO_SRC=${ODOO_SRC:-/opt/odoo18}

is_odoo18() { grep -qs '^version_info = (18, 0' "$1/odoo/release.py"; }

if is_odoo18 "$ODOO_SRC"; then
    echo "Odoo 18.0 source at $ODOO_SRC"
    exit 0
fi
if [[ -e $ODOO_SRC && -n $(ls -A "$ODOO_SRC" 2>/dev/null) ]]; then
    echo "error: $ODOO_SRC is not empty and holds no Odoo 18.0 (odoo/release.py); point ODOO_SRC at an Odoo 18.0" \
        "source or at an empty folder" >&2
    exit 2
fi

partial="$ODOO_SRC.partial.$$"
trap 'rm -rf "$partial" "$partial.git"' EXIT
rm -rf "$partial" "$partial.git"
mkdir -p "$partial"

if [[ -n ${ODOO_GIT_DIR:-} ]]; then
    git --git-dir="$ODOO_GIT_DIR" cat-file -e HEAD:odoo/release.py 2>/dev/null \
        || { echo "error: ODOO_GIT_DIR=$ODOO_GIT_DIR is not a git directory holding odoo/release.py" >&2; exit 2; }
    git --git-dir="$ODOO_GIT_DIR" archive HEAD | tar -x -C "$partial"
    origin="$ODOO_GIT_DIR (HEAD)"
else
    git init -q --bare "$partial.git"
    # Only the history since the day before the tested date: enough to find its last commit, far less than all.
    since=$(date -u -d "$ODOO_TESTED_DATE - 1 day" +%F)
    if ! git --git-dir="$partial.git" fetch -q --shallow-since="$since" "$ODOO_REMOTE" \
            "+refs/heads/$ODOO_BRANCH:refs/heads/$ODOO_BRANCH" 2>"$partial.err"; then
        echo "error: cannot fetch Odoo $ODOO_BRANCH from $ODOO_REMOTE ($(tail -n1 "$partial.err"));" \
            "without network, set ODOO_SRC to a local Odoo 18.0 source or ODOO_GIT_DIR to a local clone" >&2
        rm -f "$partial.err"
        exit 2
    fi
    rm -f "$partial.err"
    commit=$(git --git-dir="$partial.git" rev-list -1 --before="${ODOO_TESTED_DATE}T23:59:59Z" "$ODOO_BRANCH")
    [[ -n $commit ]] || { echo "error: no commit of $ODOO_BRANCH on or before $ODOO_TESTED_DATE at $ODOO_REMOTE" >&2; exit 2; }
    git --git-dir="$partial.git" archive "$commit" | tar -x -C "$partial"
    origin="$ODOO_REMOTE $ODOO_BRANCH at ${commit:0:12} (as of $ODOO_TESTED_DATE)"
fi

# Odoo's repository keeps most addons in addons/; the project (like Odoo's packages) reads them in odoo/addons/.
if [[ -d $partial/addons ]]; then
    mkdir -p "$partial/odoo/addons"
    find "$partial/addons" -mindepth 1 -maxdepth 1 -exec mv -t "$partial/odoo/addons" {} +
    rmdir "$partial/addons"
fi
is_odoo18 "$partial" || { echo "error: $origin is not Odoo 18.0 (odoo/release.py); nothing was laid at $ODOO_SRC" >&2; exit 2; }
mkdir -p "$(dirname "$ODOO_SRC")"
rmdir "$ODOO_SRC" 2>/dev/null || true
mv "$partial" "$ODOO_SRC"
echo "Odoo 18.0 source laid at $ODOO_SRC from $origin"
