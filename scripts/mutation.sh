#!/usr/bin/env bash
# Mutation testing of the service's functional core: `make mutation`, or `MODULES="segments statuses" make mutation`.
# mutmut (configured in pyproject.toml ▸ [tool.mutmut]) plants small bugs in sync_service/core/ one at a time and
# runs the pure unit tests (tests/unit, no Odoo) against each; a mutant that no test notices "survived". Prints the
# score, the survivors per module and how to look at one (`.venv/bin/mutmut show NAME`). Not part of `make test`
# (about 15 minutes on 2 cores); run it before resolving an issue that touches sync_service/core/.
# Each run starts afresh (mutants/ is rebuilt) so that the count is that of the current code and tests.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv
[[ -x $VENV/bin/mutmut ]] || { echo "error: mutmut is not installed in .venv: run 'make setup'" >&2; exit 2; }
patterns=()
for module in ${MODULES:-}; do
    [[ -f sync_service/core/$module.py ]] || { echo "error: no module sync_service/core/$module.py" >&2; exit 2; }
    patterns+=("sync_service.core.$module.*")
done
rm -rf mutants
LOG=.mutation.log
echo "==> mutmut over sync_service/core/${MODULES:+ ($MODULES)} (log: $LOG)"
if ! "$VENV/bin/mutmut" run "${patterns[@]}" >"$LOG" 2>&1; then
    tail -n 30 "$LOG" >&2
    echo "error: mutmut failed (the unit tests must pass on the unmutated code first)" >&2
    exit 1
fi
"$VENV/bin/mutmut" results --all true 2>/dev/null | "$VENV/bin/python" scripts/mutation_report.py
