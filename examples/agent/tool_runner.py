#!/usr/bin/env python3
"""tool_runner.py: run an AI agent's tool calls only through `gx run`.

Reads tool requests, one JSON object per line, from a file or stdin:

    {"id": "call_1", "tool": "shell", "argv": ["/bin/ls", "-l"],
     "cwd": "/optional/dir", "artifact": "/optional/approval.toml"}

and writes one tool result per line on stdout, ready to hand back to the
model:

    {"type": "tool_result", "tool_use_id": "call_1", "is_error": false,
     "content": "<the command's stdout>"}

Every call goes through `gx run --json --report FILE ART -- argv...`, even
when no approval exists (gx then denies with missing-authorization and
records the attempt in the receipt log). The artifact is the one the request
names, or APPROVALS/<key>.toml for that exact argv and cwd (see gxagent.py).
The decision is read from the JSON report; a denial goes back to the model
as a tool error, `denied (<code>): <detail>`, and the command never ran.

Python 3 standard library only.
"""

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile

import gxagent

MAX_OUTPUT = 64 * 1024  # what goes back into the model's context


def result(call_id, is_error, content):
    return {"type": "tool_result", "tool_use_id": call_id, "is_error": is_error, "content": content}


def clip(data):
    text = data.decode("utf-8", "replace")
    return text if len(text) <= MAX_OUTPUT else text[:MAX_OUTPUT] + "\n[output truncated]"


def check_request(req):
    """Returns (argv, cwd, artifact-or-None) or raises ValueError."""
    if not isinstance(req, dict):
        raise ValueError("a tool request is a JSON object")
    if req.get("tool") != "shell":
        raise ValueError(f"unknown tool {req.get('tool')!r}; this runner only has 'shell'")
    argv = req.get("argv")
    if not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv):
        raise ValueError("argv must be a non-empty list of strings")
    cwd = req.get("cwd", os.getcwd())
    if not isinstance(cwd, str) or not os.path.isdir(cwd):
        raise ValueError(f"cwd {cwd!r} is not a directory")
    artifact = req.get("artifact")
    if artifact is not None and not isinstance(artifact, str):
        raise ValueError("artifact must be a path")
    return argv, os.path.realpath(cwd), artifact


def run_call(cfg, req, workdir, timeout):
    call_id = req.get("id", "") if isinstance(req, dict) else ""
    try:
        argv, cwd, artifact = check_request(req)
    except ValueError as e:
        return result(call_id, True, f"invalid tool request: {e}")
    artifact = os.path.join(cwd, artifact) if artifact else gxagent.approval_path(cfg, argv, cwd)

    report = os.path.join(workdir, "report.json")
    if os.path.exists(report):
        os.unlink(report)
    cmd = gxagent.gx_run_argv(cfg, artifact, argv, "--json", "--report", report)
    try:
        p = subprocess.run(cmd, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return result(call_id, True, f"tool call timed out after {timeout}s")
    except OSError as e:
        return result(call_id, True, f"could not start gx ({cfg.gx}): {e}")

    # The report is the decision of record; without one, fail closed.
    try:
        with open(report, "rb") as f:
            raw = f.read()
    except OSError:
        raw = b""
    decision = gxagent.parse_decision(raw)
    outcome = json.loads(raw).get("outcome") if decision is not None else None
    if decision is None:
        return result(call_id, True, f"gx gave no decision (exit {p.returncode}): {clip(p.stderr).strip()}")
    if decision.get("decision") != "allow":
        text = gxagent.denial_text(decision)
        if decision.get("reason") == "missing-authorization":
            here = os.path.dirname(os.path.abspath(__file__))
            text += ("\nTo ask a human for this exact call: " +
                     shlex.join([os.path.join(here, "request_approval.py"), "request", "--cwd", cwd,
                                 "--reason", "WHY", "--", *argv]))
        return result(call_id, True, text)
    if not isinstance(outcome, dict):
        return result(call_id, True, f"authorized but did not complete (exit {p.returncode}): {clip(p.stderr).strip()}")
    if outcome.get("signal"):
        return result(call_id, True, f"killed by signal {outcome['signal']}\n{clip(p.stdout)}{clip(p.stderr)}")
    if outcome.get("exit_code") != 0:
        return result(call_id, True, f"exit {outcome.get('exit_code')}\n{clip(p.stdout)}{clip(p.stderr)}")
    return result(call_id, False, clip(p.stdout))


def main():
    ap = argparse.ArgumentParser(description="Run tool calls (JSON lines) through gx run.")
    ap.add_argument("requests", nargs="?", help="file of JSON-line requests (default: stdin)")
    ap.add_argument("--gx", help="gx binary (env GX, default: gx on PATH)")
    ap.add_argument("--trust", help="trust store (env GX_TRUST)")
    ap.add_argument("--state", help="gx state directory: receipts, uses (env GX_STATE)")
    ap.add_argument("--approvals", help="signed approvals directory (env GX_APPROVALS)")
    ap.add_argument("--timeout", type=float, default=300, help="seconds per call (default 300)")
    args = ap.parse_args()
    cfg = gxagent.load_config(args)

    source = open(args.requests, encoding="utf-8") if args.requests else sys.stdin
    with source, tempfile.TemporaryDirectory(prefix="gx-tool-runner.") as workdir:
        for line in source:
            if not line.strip():
                continue
            try:
                req = json.loads(line)
            except ValueError as e:
                out = result("", True, f"invalid tool request: not JSON ({e})")
            else:
                out = run_call(cfg, req, workdir, args.timeout)
            print(json.dumps(out, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
