#!/usr/bin/env python3
"""pre_tool_use_hook.py: a PreToolUse hook that lets a coding agent run a
shell command only through `gx run` with a valid, signed approval.

Input (stdin), as coding agents send it:
    {"tool_name": "Bash", "tool_input": {"command": "..."}, "cwd": "/dir"}

Exit 0 lets the call proceed; exit 2 blocks it and stderr is the reason the
model reads (the usual convention; any other exit code does NOT block in
such agents, so every unexpected error here exits 2: fail closed).

Only two shapes of command are considered; anything else is blocked:

  1. `GX run --trust TRUST --state STATE ART -- ARGV...`, with exactly this
     hook's gx binary (absolute path), trust store and state directory, and
     ART passing `gx run --dry-run` for ARGV in cwd (signature, trust,
     window, revocation, and an exact argv/cwd/executable match) -> allowed.
     gx itself then enforces it again, consumes the use, confines the child
     and writes the receipt.
  2. A plain command: if an approval for exactly its argv and cwd exists
     (GX_APPROVALS/<key>.toml) and passes the dry run, the hook still
     blocks, and tells the model the exact `gx run ...` line to run
     instead; otherwise it blocks and says how to ask for an approval.

Commands must be simple words (quotes allowed): no shell operators,
expansions, redirections or globs, since those would make what runs differ
from the argv that was approved. Configuration: GX, GX_TRUST, GX_STATE,
GX_APPROVALS (see gxagent.py).
"""

import json
import os
import shlex
import sys

import gxagent

SHELL_SYNTAX = set("$`;&|<>(){}*?[]~!#\\\n\r")


def block(reason):
    sys.stderr.write(f"gx hook: {reason}\n")
    sys.exit(2)


def simple_words(command):
    """argv of a command that is only (possibly quoted) words, else None."""
    if not command.strip() or SHELL_SYNTAX & set(command):
        return None
    try:
        words = shlex.split(command)
    except ValueError:
        return None
    return words or None


def strict_gx_run(cfg, words):
    """(ART, ARGV) if words are exactly our gx run line, else None."""
    head = [cfg.gx, "run", "--trust", cfg.trust, "--state", cfg.state]
    if words[:len(head)] != head or len(words) < len(head) + 3 or words[len(head) + 1] != "--":
        return None
    return words[len(head)], words[len(head) + 2:]


def decide(payload):
    if payload.get("tool_name") != "Bash":
        return  # not a shell command: not this hook's business
    cfg = gxagent.load_config()
    command = (payload.get("tool_input") or {}).get("command")
    if not isinstance(command, str):
        block("no command in the tool input")
    cwd = os.path.realpath(payload.get("cwd") or os.getcwd())
    words = simple_words(command)
    if words is None:
        block("only simple commands (words and quotes; no ; | & $ ` < > ( ) globs or ~) may run, "
              "each with its own signed approval")

    form = strict_gx_run(cfg, words)
    if form is not None:
        artifact, argv = form
        ok, why = gxagent.dry_run(cfg, artifact, argv, cwd)
        if not ok:
            block(why)
        return  # allowed: gx run re-checks everything and confines the child

    if os.path.basename(words[0]) == "gx":
        block("gx may only be called as: " + shlex.join([cfg.gx, "run", "--trust", cfg.trust,
                                                         "--state", cfg.state, "ART", "--", "COMMAND..."]))
    artifact = gxagent.approval_path(cfg, words, cwd)
    if not os.path.exists(artifact):
        here = os.path.dirname(os.path.abspath(__file__))
        block(f"no approval for this exact command in {cwd}. Ask for one with: "
              f"{shlex.join([os.path.join(here, 'request_approval.py'), 'request', '--reason', 'WHY', '--', *words])}")
    ok, why = gxagent.dry_run(cfg, artifact, words, cwd)
    if not ok:
        block(f"the approval {artifact} does not allow this call: {why}")
    block("approved, but it must run under gx; run exactly: " + shlex.join(gxagent.gx_run_argv(cfg, artifact, words)))


def main():
    try:
        payload = json.load(sys.stdin)
        if not isinstance(payload, dict):
            block("hook input is not a JSON object")
        decide(payload)
    except SystemExit:
        raise
    except BaseException as e:  # fail closed: only exit 2 blocks
        block(f"internal error, refusing: {type(e).__name__}: {e}")
    sys.exit(0)


if __name__ == "__main__":
    main()
