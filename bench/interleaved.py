"""Shared by bench/ab_run.py and bench/interleave.py: run commands interleaved, timing each run."""
import os, random, sys, time

_devnull = os.open("/dev/null", os.O_RDWR)
_quiet = [(os.POSIX_SPAWN_DUP2, _devnull, fd) for fd in (0, 1, 2)]


def run_once(argv):
    """(wall ms, CPU ms of it and its children) of one run of argv, output discarded; exits on failure."""
    t = time.perf_counter()
    pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=_quiet)
    _, status, ru = os.wait4(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{' '.join(argv)} failed")
    return (time.perf_counter() - t) * 1e3, (ru.ru_utime + ru.ru_stime) * 1e3


def interleave(cmds, rounds, warmup=5, gap_ms=0, burst=1):
    """{name: [(wall, cpu), ...]}: each round runs every command once, in a fresh random order.
    gap_ms: a pause before each run, so that what a command leaves running in the background (a
    broker preparing its next worker) finishes before the next command, whichever it is, starts.
    burst > 1: each command runs that many times in a row per round, and only the runs after its
    first are kept: back-to-back calls (an agent's tool calls), still interleaved across rounds."""
    for argv in cmds.values():
        for _ in range(warmup):
            run_once(argv)  # warm caches and state
    res = {k: [] for k in cmds}
    for _ in range(rounds):
        order = list(cmds)
        random.shuffle(order)
        for k in order:
            for i in range(burst):
                if gap_ms:
                    time.sleep(gap_ms / 1e3)
                r = run_once(cmds[k])
                if burst == 1 or i > 0:
                    res[k].append(r)
    return res
