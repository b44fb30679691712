"""Mutation testing: run mutmut, then print the score of every mutated module and its survivors.

The modules and their tests are configured once, in pyproject.toml's [tool.mutmut] section
(``only_mutate`` and ``pytest_add_cli_args_test_selection``); this script reads the module list
from there, so adding a module there adds it here. Exit status 1 when a module scores below
``--bar`` percent, 2 on usage errors.

    python scripts/mutation.py [--bar 90] [--jobs N] [--show] [--no-run]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tomllib
from collections import Counter
from pathlib import Path

KILLED = {"killed", "timeout", "caught by type check", "segfault"}
UNTESTED = {"skipped", "not checked"}  # reported, not scored


def modules(pyproject: Path) -> list[str]:
    """``src/bistro/rollout/analysis.py`` -> ``bistro.rollout.analysis``."""
    config = tomllib.loads(pyproject.read_text())["tool"]["mutmut"]
    names = []
    for path in config["only_mutate"]:
        parts = Path(path).with_suffix("").parts
        names.append(".".join(parts[1:] if parts[0] == "src" else parts))
    return names


def results(mutmut: str) -> dict[str, str]:
    output = subprocess.run(
        [mutmut, "results", "--all", "true"], check=True, capture_output=True, text=True
    ).stdout
    statuses = {}
    for line in output.splitlines():
        name, sep, status = line.strip().rpartition(": ")
        if sep:
            statuses[name] = status
    return statuses


def module_of(mutant: str, names: list[str]) -> str | None:
    matches = [name for name in names if mutant.startswith(name + ".")]
    return max(matches, key=len) if matches else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bar", type=float, default=90.0, help="minimum score per module, %%")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--show", action="store_true", help="print each survivor's diff")
    parser.add_argument("--no-run", action="store_true", help="report the last run only")
    args = parser.parse_args()
    mutmut = str(Path(sys.executable).with_name("mutmut"))
    names = modules(Path("pyproject.toml"))
    if not args.no_run:
        run = subprocess.run([mutmut, "run", "--max-children", str(args.jobs)], check=False)
        if run.returncode != 0:
            print(f"mutmut run failed with exit code {run.returncode}", file=sys.stderr)
            return 1
    statuses = results(mutmut)
    worst = 100.0
    for name in names:
        mine = {m: s for m, s in statuses.items() if module_of(m, names) == name}
        counts = Counter(mine.values())
        killed = sum(counts[s] for s in KILLED)
        scored = sum(n for s, n in counts.items() if s not in UNTESTED)
        score = 100.0 * killed / scored if scored else 0.0
        worst = min(worst, score)
        detail = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        print(f"{name}: {score:.1f} % killed ({killed} of {scored}; {detail})")
        for mutant, status in sorted(mine.items()):
            if status not in KILLED:
                print(f"  {status}: {mutant}")
                if args.show:
                    subprocess.run([mutmut, "show", mutant], check=False)
    if worst < args.bar:
        print(f"mutation score {worst:.1f} % is below the bar of {args.bar:g} %")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
