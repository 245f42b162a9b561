"""Prints the comparison written by benches/compare.sh: per scenario and build, the median over
rounds of Vellum's median time and of its ratio to pymongo raw measured in the same run."""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path


def main(rev: str, out: Path) -> None:
    runs: dict[str, list[dict[str, object]]] = {"base": [], "head": []}
    for path in sorted(out.glob("*-*/benchmarks.json")):
        side = path.parent.name.split("-")[0]
        runs[side].append(json.loads(path.read_text()))
    print(f"vellum at {rev} (base) and at this checkout (head), {len(runs['head'])} rounds each")
    print(f"{'scenario':44} {'base ms':>9} {'head ms':>9} {'base ratio':>11} {'head ratio':>11}")
    scenarios = [r["scenario"] for r in runs["head"][0]["results"]]  # type: ignore[index]
    for scenario in scenarios:
        for label in ("vellum", "vellum trusted"):
            cells: list[str] = []
            for key in ("median", "ratio"):
                for side in ("base", "head"):
                    values = [
                        r[key][label]
                        for run in runs[side]
                        for r in run["results"]  # type: ignore[attr-defined]
                        if r["scenario"] == scenario and r[key].get(label) is not None
                    ]
                    width = 9 if key == "median" else 11
                    cell = f"{statistics.median(values):.2f}" if values else "-"
                    cells.append(f"{cell:>{width}}")
            name = f"{scenario[:36]}{' (trusted)' if label != 'vellum' else ''}"
            print(f"{name:44} {' '.join(cells)}")


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))
