#!/usr/bin/env python3
"""Interleaved A/B of two gx binaries: `gx run ART -- /bin/true`, each with its own warm state.

  bench/ab_run.py A_GX B_GX DIR [ROUNDS]

DIR holds k/trust.toml and t.toml (an artifact for /bin/true made and signed in DIR, which is
also the working directory); state dirs DIR/sa and DIR/sb. posix_spawn + wait4 per run, the
order shuffled every round; prints the medians of wall time and of the child's CPU time.
"""
import os, statistics, sys

from interleaved import interleave

a_gx, b_gx, d = sys.argv[1], sys.argv[2], sys.argv[3]
rounds = int(sys.argv[4]) if len(sys.argv) > 4 else 60
os.chdir(d)
cmds = {k: [gx, "run", "--trust", "k/trust.toml", "--state", s, "t.toml", "--", "/bin/true"]
        for k, gx, s in (("A", a_gx, "sa"), ("B", b_gx, "sb"))}
res = interleave(cmds, rounds)
for k, r in res.items():
    print(f"{k}: wall median {statistics.median(x[0] for x in r):.2f} ms, "
          f"cpu median {statistics.median(x[1] for x in r):.2f} ms ({rounds} rounds)")
