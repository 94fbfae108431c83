#!/usr/bin/env python3
"""Interleaved A/B of two gx binaries: `gx run ART -- /bin/true`, each with its own warm state.

  bench/ab_run.py A_GX B_GX DIR [ROUNDS]

DIR holds k/trust.toml and t.toml (an artifact for /bin/true made and signed in DIR, which is
also the working directory); state dirs DIR/sa and DIR/sb. posix_spawn + wait4 per run, the
order shuffled every round; prints the medians of wall time and of the child's CPU time.
"""
import os, random, statistics, sys, time

a_gx, b_gx, d = sys.argv[1], sys.argv[2], sys.argv[3]
rounds = int(sys.argv[4]) if len(sys.argv) > 4 else 60
os.chdir(d)
cmds = {k: [gx, "run", "--trust", "k/trust.toml", "--state", s, "t.toml", "--", "/bin/true"]
        for k, gx, s in (("A", a_gx, "sa"), ("B", b_gx, "sb"))}
devnull = os.open("/dev/null", os.O_RDWR)
fa = [(os.POSIX_SPAWN_DUP2, devnull, 1), (os.POSIX_SPAWN_DUP2, devnull, 2)]


def once(argv):
    t = time.perf_counter()
    pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=fa)
    _, status, ru = os.wait4(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{argv[0]} failed")
    return (time.perf_counter() - t) * 1e3, (ru.ru_utime + ru.ru_stime) * 1e3


for argv in cmds.values():
    for _ in range(5):
        once(argv)  # warm caches and state
res = {k: [] for k in cmds}
for _ in range(rounds):
    order = list(cmds)
    random.shuffle(order)
    for k in order:
        res[k].append(once(cmds[k]))
for k, r in res.items():
    print(f"{k}: wall median {statistics.median(x[0] for x in r):.2f} ms, "
          f"cpu median {statistics.median(x[1] for x in r):.2f} ms ({rounds} rounds)")
