#!/usr/bin/env python3
"""Interleaved peer comparison: what bench/compare measures for /bin/true, but every round runs
each command once, in a fresh random order, so that a host whose speed drifts (a shared VM) slows
every command alike and the ratios stay comparable. hyperfine (bench/compare) runs each command's
samples in one block; on such a host the blocks see different machines.

  bench/interleave.py [--rounds N] [--gx PATH]... [--no-broker] [--gap-ms MS] [--burst N] [--init-arg ARG]...

Each --gx (default: build/gx) gets its own state directory and, unless --no-broker, its own
`gx broker`, measured once its receipt key is past the 2 s racy window (as bench/compare does). Prints medians and the ratio to bwrap; needs bwrap (sudo -n is measured when usable).
Never touches the machine's /etc/gx or /var/lib/gx: every path is passed explicitly.
"""
import argparse, os, shutil, signal, statistics, subprocess, sys, tempfile, time

from interleaved import interleave

here = os.path.dirname(os.path.abspath(__file__))
ap = argparse.ArgumentParser()
ap.add_argument("--rounds", type=int, default=300)
ap.add_argument("--gx", action="append")
ap.add_argument("--no-broker", action="store_true")
ap.add_argument("--gap-ms", type=float, default=0, help="pause before every run (default 0: back to back)")
ap.add_argument("--burst", type=int, default=1,
                help="runs of each command in a row per round; the first of each burst is not counted "
                     "(back-to-back calls: a broker's next worker gets no idle time)")
ap.add_argument("--init-arg", action="append", default=[],
                help="one more `gx init` argument for the artifact (e.g. --init-arg=--exec --init-arg=/usr/bin)")
args = ap.parse_args()
gxs = [os.path.abspath(g) for g in (args.gx or [os.path.join(here, "..", "build", "gx")])]
if not shutil.which("bwrap"):
    sys.exit("bench/interleave.py: bwrap is required (bench/compare installs it)")

w = tempfile.mkdtemp(prefix="gx-interleave.")
os.chmod(w, 0o700)
os.chdir(w)
quiet = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
g0 = gxs[0]
subprocess.run([g0, "keygen", "-o", "k"], **quiet)
os.mkdir("tr", 0o700)
subprocess.run([g0, "trust", "add", "k.pub", "--name", "bench", "--trust", "tr/trust.toml"], **quiet)
subprocess.run([g0, "init", "-f", "--max-uses", "1000000", "--ttl", "1d", *args.init_arg, "-o", "t.toml", "--", "/bin/true"],
               **quiet)
subprocess.run([g0, "sign", "-k", "k.key", "t.toml"], **quiet)

cmds = {"bare": ["/bin/true"], "bwrap": [shutil.which("bwrap"), "--ro-bind", "/", "/", "--dev", "/dev", "/bin/true"]}
if shutil.which("sudo") and subprocess.run(["sudo", "-n", "/bin/true"], stderr=subprocess.DEVNULL).returncode == 0:
    cmds["sudo"] = [shutil.which("sudo"), "-n", "/bin/true"]
brokers = []
try:
    for i, gx in enumerate(gxs):
        tag = f"gx{i}" if len(gxs) > 1 else "gx"
        state = f"state{i}"
        os.mkdir(state, 0o700)
        cmds[f"{tag}-run"] = [gx, "run", "--trust", "tr/trust.toml", "--state", state, "t.toml", "--", "/bin/true"]
        if not args.no_broker:
            sock = os.path.join(w, f"b{i}.sock")
            os.mkdir(f"bstate{i}", 0o700)
            brokers.append(subprocess.Popen([gx, "broker", "--socket", sock, "--trust", "tr/trust.toml", "--state",
                                             f"bstate{i}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            for _ in range(100):
                if os.path.exists(sock):
                    break
                time.sleep(0.05)
            cmds[f"{tag}-broker"] = [gx, "run", "--broker", sock, "t.toml", "--", "/bin/true"]
    if brokers:
        # A broker's first request writes its receipt key: for 2 s that key's
        # stamp is "racy" and every request re-reads it (docs/broker.md, kept
        # state), and a worker whose kept state was re-read is not reused. A
        # broker in service is past that; so is what is measured here (as in
        # bench/compare).
        for k in [k for k in cmds if k.endswith("-broker")]:
            subprocess.run(cmds[k], **quiet)
        time.sleep(2.1)
    res = interleave(cmds, args.rounds, gap_ms=args.gap_ms, burst=args.burst)
    med = {k: statistics.median(w for w, _ in v) for k, v in res.items()}
    print(f"{'command':14s} {'median ms':>10s} {'x bwrap':>8s}   ({args.rounds} interleaved rounds, gap {args.gap_ms:g} ms"
          + (f", bursts of {args.burst}" if args.burst > 1 else "") + ")")
    for k, v in med.items():
        print(f"{k:14s} {v:10.3f} {v / med['bwrap']:8.2f}")
finally:
    for b in brokers:
        b.send_signal(signal.SIGTERM)
        b.wait()
    shutil.rmtree(w, ignore_errors=True)
