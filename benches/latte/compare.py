"""Client CPU per write of casstop and latte on the same table, same node, same depth and rate,
measured from outside (the child's rusage: user + system CPU of the whole process, start to
exit), in alternating runs. Prints each run and the median ratio casstop / latte.

    python3 benches/latte/compare.py [--rounds 3] [--duration 10] [--rate 0] [--depth 64]

Needs `latte` (cargo install latte-cli), casstop built in release, and the local node up.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

# (name, casstop profile, latte script)
WORKLOADS = [
    ("time-series", os.path.join(ROOT, "assets/workloads/time-series.toml"), "time-series.rn"),
    ("wide-row", os.path.join(HERE, "wide-row-common.toml"), "wide-row.rn"),
]


def measured(argv):
    """Runs argv; returns its CPU seconds (user + system) from its rusage."""
    child = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    stderr = child.stderr.read().decode()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{' '.join(argv)} failed:\n{stderr}")
    return usage.ru_utime + usage.ru_stime


def casstop(args, profile, out):
    cpu = measured([
        args.casstop, "bench", "--workload", profile, "--strategy", "callbacks",
        "--depth", str(args.depth), "--rate", str(args.rate), "--duration", f"{args.duration}s",
        "--rows-per-request", "1", "--consistency", "one", "--quiet", "--json", out,
    ])
    with open(out) as f:
        return cpu, json.load(f)["ok"]


def latte(args, script, out):
    cpu = measured([
        args.latte, "run", os.path.join(HERE, script), "-d", f"{args.duration}s",
        "-p", str(args.depth), "-t", "1", "--consistency", "ONE", "-o", out, "-q",
    ] + (["-r", str(args.rate)] if args.rate > 0 else []))
    with open(out) as f:
        report = json.load(f)
    return cpu, latte_ops(report)


def latte_ops(report):
    """Requests latte completed, from its JSON report."""
    result = report["result"]
    return result["request_count"] - result["error_count"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10)
    # 0 = open: as fast as the node takes at that depth (per-second costs spread thinnest).
    parser.add_argument("--rate", type=int, default=0)
    parser.add_argument("--depth", type=int, default=64)
    parser.add_argument("--casstop", default=os.path.join(ROOT, "target/release/casstop"))
    parser.add_argument("--latte", default="latte")
    parser.add_argument("--only", help="one workload by name")
    args = parser.parse_args()
    tmp = tempfile.mkdtemp()
    for name, profile, script in WORKLOADS:
        if args.only and name != args.only:
            continue
        subprocess.run([args.latte, "schema", os.path.join(HERE, script)], check=True,
                       stdout=subprocess.DEVNULL)
        per_op = {"casstop": [], "latte": []}
        for round in range(args.rounds):
            order = ["casstop", "latte"] if round % 2 == 0 else ["latte", "casstop"]
            for tool in order:
                out = os.path.join(tmp, f"{name}-{tool}-{round}.json")
                cpu, ops = casstop(args, profile, out) if tool == "casstop" else latte(args, script, out)
                per_op[tool].append(cpu / ops * 1e6)
                print(f"{name:12} round {round} {tool:8} {ops:8} writes  {cpu:6.2f} s CPU  "
                      f"{cpu / ops * 1e6:6.1f} µs/write", flush=True)
        c, l = statistics.median(per_op["casstop"]), statistics.median(per_op["latte"])
        print(f"{name:12} median: casstop {c:.1f} µs/write, latte {l:.1f} µs/write, "
              f"casstop/latte {c / l:.2f}x", flush=True)


if __name__ == "__main__":
    main()
