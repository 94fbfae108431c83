#!/usr/bin/env python3
"""request_approval.py: the approval loop for agent tool calls.

  request_approval.py request [--cwd DIR] [--reason TEXT] [--ttl 15m]
                              [--max-uses N] [--write PATH]... [--read PATH]...
                              -- ARGV...
      The agent asks: writes the UNSIGNED artifact for exactly ARGV in DIR
      (`gx init`) to PENDING/<key>.toml and prints its path.

  request_approval.py list
      What is waiting for a decision.

  request_approval.py approve --key KEY [--yes] PENDING_FILE
      A human (or a policy engine holding KEY) decides: shows the artifact,
      signs it (`gx sign`), checks it against the trust store (`gx verify`)
      and files it in APPROVALS/<key>.toml, where tool_runner.py and
      pre_tool_use_hook.py look. Without --yes it asks on the terminal.

Paths come from GX, GX_TRUST, GX_STATE, GX_APPROVALS, GX_PENDING (see
gxagent.py). The signing key must never be readable by the agent.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import tomllib

import gxagent


def request(cfg, args):
    argv = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
    if not argv:
        sys.exit("request_approval: give the command after --")
    cwd = os.path.realpath(args.cwd)
    os.makedirs(cfg.pending, exist_ok=True)
    out = gxagent.pending_path(cfg, argv, cwd)
    cmd = [cfg.gx, "init", "-o", out, "--force", "--ttl", args.ttl, "--max-uses", str(args.max_uses)]
    for p in args.write:
        cmd += ["--write", p]
    for p in args.read:
        cmd += ["--read", p]
    cmd += ["--reason", args.reason or "requested by the agent", "--", *argv]
    p = subprocess.run(cmd, cwd=cwd, stdin=subprocess.DEVNULL)
    if p.returncode != 0:
        sys.exit(p.returncode)
    print(out)


def list_pending(cfg, _args):
    if not os.path.isdir(cfg.pending):
        return
    for name in sorted(os.listdir(cfg.pending)):
        path = os.path.join(cfg.pending, name)
        try:
            with open(path, "rb") as f:
                body = tomllib.load(f)
            print(f"{path}\n    {body['exec']['cwd']}$ {' '.join(body['exec']['argv'])}\n    reason: {body.get('reason', '')}")
        except (OSError, ValueError, KeyError, TypeError) as e:
            print(f"{path}\n    (unreadable: {e})")


def approve(cfg, args):
    path = os.path.abspath(args.file)
    with open(path, "rb") as f:
        raw = f.read()
    body = tomllib.loads(raw.decode("utf-8"))
    argv, cwd = body["exec"]["argv"], body["exec"]["cwd"]
    if any(not isinstance(a, str) for a in argv):
        sys.exit("request_approval: argv globs are not filed by this script; sign by hand")
    if not args.yes:
        sys.stderr.write(raw.decode("utf-8") + f"\nSign this for: {cwd}$ {' '.join(argv)} ? [y/N] ")
        sys.stderr.flush()
        if not sys.stdin.isatty() or sys.stdin.readline().strip().lower() not in ("y", "yes"):
            sys.exit("request_approval: not approved")
    # Sign the bytes that were shown, not the pending file again: the agent
    # can write to the pending directory and could swap it in between.
    os.makedirs(cfg.approvals, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=cfg.approvals, prefix=".signing.", suffix=".toml")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
        if subprocess.run([cfg.gx, "sign", "-k", args.key, tmp]).returncode != 0:
            sys.exit("request_approval: gx sign failed")
        if subprocess.run([cfg.gx, "verify", "--trust", cfg.trust, tmp], stdout=subprocess.DEVNULL).returncode != 0:
            sys.exit("request_approval: the signed artifact does not verify against " + cfg.trust)
        dest = gxagent.approval_path(cfg, argv, cwd)
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    os.unlink(path)
    print(dest)


def main():
    ap = argparse.ArgumentParser(description="Request and grant gx approvals for agent tool calls.")
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("request", help="write an unsigned artifact for one call")
    r.add_argument("--cwd", default=os.getcwd(), help="directory the call runs in (default: here)")
    r.add_argument("--reason", default="", help="why the agent needs it (the approver reads this)")
    r.add_argument("--ttl", default="15m", help="how long the approval stays valid (gx init --ttl)")
    r.add_argument("--max-uses", type=int, default=1, help="how many runs it allows (default 1)")
    r.add_argument("--write", action="append", default=[], help="path the command may write")
    r.add_argument("--read", action="append", default=[], help="extra path the command may read")
    r.add_argument("argv", nargs=argparse.REMAINDER, help="-- COMMAND ARGS...")
    r.set_defaults(func=request)
    lp = sub.add_parser("list", help="show pending requests")
    lp.set_defaults(func=list_pending)
    a = sub.add_parser("approve", help="sign a pending request and file it")
    a.add_argument("--key", required=True, help="approver's private key (gx keygen)")
    a.add_argument("--yes", action="store_true", help="do not ask (a policy engine's decision)")
    a.add_argument("file", help="the pending artifact")
    a.set_defaults(func=approve)
    args = ap.parse_args()
    args.func(gxagent.load_config(args), args)


if __name__ == "__main__":
    main()
