#!/usr/bin/env python3
"""Scores per file and the surviving mutants of a Stryker.NET JSON report.

usage: survivors.py mutation-report.json [file-substring]

Prints, per mutated file, the mutants killed (timeouts count as killed, as Stryker counts them), survived and not
covered, and the score killed / (killed + survived + no coverage). With a file substring, also lists that file's
survivors and uncovered mutants: line, status, mutator, replacement and the source line.
"""
import collections
import json
import sys


def main(argv):
    if len(argv) < 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    report = json.load(open(argv[1], encoding="utf-8"))
    total = collections.Counter()
    for name, data in sorted(report["files"].items()):
        counts = collections.Counter(m["status"] for m in data["mutants"])
        killed = counts["Killed"] + counts["Timeout"]
        left = counts["Survived"] + counts["NoCoverage"]
        if killed + left:
            short = name.split("src/ResidualLM/")[-1]
            print(f"{short:45s} killed {killed:4d} survived {counts['Survived']:3d} nocov {counts['NoCoverage']:3d} score {100 * killed / (killed + left):.1f}")
        total.update(counts)
    killed = total["Killed"] + total["Timeout"]
    left = total["Survived"] + total["NoCoverage"]
    print("total", dict(total), f"score {100 * killed / max(1, killed + left):.2f}")
    if len(argv) > 2:
        for name, data in sorted(report["files"].items()):
            if argv[2] not in name:
                continue
            lines = data["source"].split("\n")
            for m in sorted(data["mutants"], key=lambda m: m["location"]["start"]["line"]):
                if m["status"] in ("Survived", "NoCoverage"):
                    line = m["location"]["start"]["line"]
                    print(f"{name.split('/')[-1]}:{line} {m['status']} {m['mutatorName']}: "
                          f"{m.get('replacement', '')[:100]!r} | {lines[line - 1].strip()[:120]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
