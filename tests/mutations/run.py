#!/usr/bin/env python3
"""Hand-made mutation check (issue 18): each entry of mutations.json breaks one line of promised
behaviour; at least one of its named tests must fail. Run it in a spare worktree, never in the
one you work in (it edits the sources and puts them back):

    git worktree add ../mut HEAD && python3 tests/mutations/run.py ../mut [M01 M02 ...]

Results go to target/mutations/ of that worktree (results.tsv and a log per mutation)."""
import json, subprocess, sys, time, pathlib, re
ROOT = pathlib.Path(sys.argv[1]).resolve()
OUT = ROOT / "target" / "mutations"
OUT.mkdir(parents=True, exist_ok=True)
muts = json.load(open(pathlib.Path(__file__).with_name("mutations.json")))
only = set(sys.argv[2:])
for m in muts:
    if only and m["id"] not in only:
        continue
    path = ROOT / m["file"]
    text = path.read_text()
    if text.count(m["old"]) != 1:
        print(f"{m['id']}\tBADPATTERN\t{text.count(m['old'])}", flush=True)
        with open(OUT / "results.tsv", "a") as f:
            f.write(f"{m['id']}\tBADPATTERN\n")
        continue
    path.write_text(text.replace(m["old"], m["new"], 1))
    verdict, failed, log = "SURVIVED", [], ""
    t0 = time.time()
    try:
        for cmd in m["tests"]:
            kind, filt = cmd.split(":", 1)
            args = ["cargo", "test", "--release"] + (["--lib"] if kind == "unit" else ["--test", "it"]) + ["--", filt]
            p = subprocess.run(args, cwd=ROOT, capture_output=True, text=True)
            log += p.stdout + p.stderr
            if re.search(r"error(\[E\d+\])?: ", p.stderr) and "could not compile" in p.stderr:
                verdict = "NOCOMPILE"; break
            if p.returncode != 0:
                failed = re.findall(r"^    (\S+)$", p.stdout, re.M) or ["(exit %d)" % p.returncode]
                verdict = "CAUGHT"; break
    finally:
        path.write_text(text)
    (OUT / f"log-{m['id']}.txt").write_text(log)
    line = f"{m['id']}\t{verdict}\t{int(time.time()-t0)}s\t{' '.join(failed)}"
    print(line, flush=True)
    with open(OUT / "results.tsv", "a") as f:
        f.write(line + "\n")
