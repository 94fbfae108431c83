#!/usr/bin/env python3
"""A minimal agent loop run under `gx run`, whose every tool call is a nested
governed run (docs/lineage.md, "Nested runs").

    agent.py GX TASKS APPROVALS

Reads TASKS (one JSON object a line: {"id", "tool", "argv"}), and for each
calls the tool through `GX run APPROVALS/<id>.toml -- argv...`. Inside its
sandbox this agent can execute gx and nothing else; the gx it starts finds
GX_CHANNEL and asks the supervising gx, which verifies the tool's artifact
against this agent's own run (its parent), records the call as this run's
child and runs the tool under the tool's own sandbox. One result line (JSON)
per task on stdout. Standard library only.
"""
import json
import os
import subprocess
import sys


def call_tool(gx, approvals, task, channel):
    art = os.path.join(approvals, task["id"] + ".toml")
    proc = subprocess.run([gx, "run", art, "--", *task["argv"]], capture_output=True, text=True,
                          pass_fds=(channel,))  # the channel must reach the inner gx
    return {"id": task["id"], "tool": task["tool"], "exit": proc.returncode,
            "output": proc.stdout.strip(), "error": proc.stderr.strip()}


def direct_exec(argv):
    """What an agent that tries to bypass gx gets: its sandbox execs nothing but gx."""
    try:
        subprocess.run(argv, capture_output=True)
        return "ran"
    except OSError as e:
        return "blocked: " + e.strerror


def main():
    gx, tasks, approvals = sys.argv[1:4]
    channel = int(os.environ["GX_CHANNEL"])  # set by the supervising gx; nothing runs without it
    with open(tasks) as f:
        for line in f:
            if not line.strip():
                continue
            task = json.loads(line)
            if task["tool"] == "direct":
                print(json.dumps({"id": task["id"], "tool": "direct", "result": direct_exec(task["argv"])}), flush=True)
            else:
                print(json.dumps(call_tool(gx, approvals, task, channel)), flush=True)


if __name__ == "__main__":
    main()
