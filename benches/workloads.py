"""Client CPU per write of each shipped workload profile, and of the python benchmarks' table
with `literal` against `prepared` statements under `sync` and `callbacks`: casstop's own
`cpu_us_per_op` and the process's rusage (whole process, start to exit), same node, same rate,
in alternating rounds. Prints each run and the medians.

    python3 benches/workloads.py [--rounds 3] [--duration 8] [--rate 1500]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHIPPED = os.path.join(ROOT, "assets/workloads")


def run(binary, args, out):
    child = subprocess.Popen([binary, "bench", *args, "--quiet", "--json", out],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"casstop bench {' '.join(args)} failed:\n{child.stderr.read().decode()}")
    with open(out) as f:
        result = json.load(f)
    return result["cpu_us_per_op"], (usage.ru_utime + usage.ru_stime) / result["ok"] * 1e6


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=8)
    parser.add_argument("--rate", type=int, default=1500)
    parser.add_argument("--casstop", default=os.path.join(ROOT, "target/release/casstop"))
    args = parser.parse_args()
    common = ["--duration", f"{args.duration}s", "--rate", str(args.rate), "--depth", "64"]
    cases = [(f, ["--workload", os.path.join(SHIPPED, f)]) for f in sorted(os.listdir(SHIPPED))]
    python = ["--workload", os.path.join(SHIPPED, "python-benchmark.toml")]
    for strategy in ["sync", "callbacks"]:
        for statement in ["literal", "prepared"]:
            cases.append((f"python-benchmark {strategy} {statement}",
                          python + ["--strategy", strategy, "--statement", statement]))
    tmp = tempfile.mkdtemp()
    results = {name: ([], []) for name, _ in cases}
    for round in range(args.rounds):
        ordered = cases if round % 2 == 0 else list(reversed(cases))
        for name, extra in ordered:
            own, outside = run(args.casstop, common + extra, os.path.join(tmp, "run.json"))
            results[name][0].append(own)
            results[name][1].append(outside)
            print(f"round {round} {name:40} {own:7.1f} µs/write (casstop) {outside:7.1f} (rusage)",
                  flush=True)
    print()
    print(f"{'workload':40} {'casstop µs/write':>17} {'rusage µs/write':>16}")
    for name, (own, outside) in results.items():
        print(f"{name:40} {statistics.median(own):17.1f} {statistics.median(outside):16.1f}")


if __name__ == "__main__":
    main()
