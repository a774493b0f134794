"""Summary of a mutmut run for `make mutation`: score, survivors per module, known equivalents set apart.

Reads `mutmut results --all true` on stdin; a survivor listed in scripts/mutation_equivalents.tsv counts as
equivalent only while `mutmut show` still gives the listed mutated line (else it is a survivor to look at).
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

EQUIVALENTS = Path(__file__).with_name("mutation_equivalents.tsv")
NAME = re.compile(r"^(?P<module>[\w.]+?)\.x[_ǁ]")


def mutated_line(name: str) -> str:
    shown = subprocess.run([".venv/bin/mutmut", "show", name], capture_output=True, text=True).stdout
    lines = shown.splitlines()
    added = [line[1:].strip() for line in lines if line.startswith("+") and not line.startswith("+++")]
    return added[0] if added else ""


def main() -> int:
    verdicts: dict[str, str] = {}
    for line in sys.stdin:
        name, sep, verdict = line.strip().rpartition(": ")
        if sep and NAME.match(name):
            verdicts[name] = verdict
    checked = {name: v for name, v in verdicts.items() if v not in ("not checked", "skipped")}
    listed = {}
    for row in EQUIVALENTS.read_text(encoding="utf-8").splitlines():
        if row and not row.startswith("#"):
            name, line, why = row.split("\t")
            listed[name] = (line, why)
    # A timeout is caught too: the mutant made the tests hang (an endless loop), which the run notices.
    survivors = sorted(name for name, v in checked.items() if v not in ("killed", "timeout"))
    equivalent = [n for n in survivors if n in listed and mutated_line(n) == listed[n][0]]
    surviving = [n for n in survivors if n not in equivalent]
    killed = len(checked) - len(survivors)
    scored = len(checked) - len(equivalent)
    print(
        f"{len(checked)} mutants: {killed} killed, {len(equivalent)} equivalent ({EQUIVALENTS.name}), "
        f"{len(surviving)} surviving; score {killed / max(scored, 1):.1%}"
    )
    by_module: dict[str, list[str]] = defaultdict(list)
    untested: dict[str, Counter[str]] = defaultdict(Counter)  # functions no unit test calls: one line each
    for name in surviving:
        match = NAME.match(name)
        module = match["module"] if match else "?"
        short = name.removeprefix(module + ".")
        if checked[name] == "no tests":
            untested[module][short.rsplit("__mutmut_", 1)[0]] += 1
        else:
            by_module[module].append(f"{short} ({checked[name]})")
    for module in sorted(set(by_module) | set(untested)):
        names = by_module.get(module, [])
        count = len(names) + sum(untested[module].values())
        print(f"  {module}: {count} surviving")
        if names:
            print("    " + ", ".join(names))
        for function, n in sorted(untested[module].items()):
            print(f"    {function}: {n} mutants, no unit test calls it")
    if surviving:
        print("look at one with: .venv/bin/mutmut show NAME")
    return 0


if __name__ == "__main__":
    sys.exit(main())
