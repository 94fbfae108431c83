"""Shared by the agent examples: configuration, approval lookup, gx calls.

An approval is a signed gx artifact for one exact tool call. It is filed
under a name derived from the call itself, so the runner and the hook find
it without trusting anything the model says:

    APPROVALS/<sha256 of {"argv": [...], "cwd": "..."}>.toml

The name is only a lookup key: `gx run` still verifies the signature,
the trust store, the time window, the uses left, and that argv, cwd and the
executable's digest match exactly.

Python 3 standard library only.
"""

import hashlib
import json
import os
import shutil
import subprocess
from dataclasses import dataclass


@dataclass
class Config:
    gx: str
    trust: str
    state: str
    approvals: str
    pending: str


def _home_dir(*parts):
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(base, "gx-agent", *parts)


def load_config(args=None):
    """Environment first (GX, GX_TRUST, GX_STATE, GX_APPROVALS, GX_PENDING),
    then command-line overrides (args.gx, args.trust, ...) where given."""
    env = os.environ
    cfg = Config(
        gx=env.get("GX") or shutil.which("gx") or "gx",
        trust=env.get("GX_TRUST") or _home_dir("trust.toml"),
        state=env.get("GX_STATE") or _home_dir("state"),
        approvals=env.get("GX_APPROVALS") or _home_dir("approvals"),
        pending=env.get("GX_PENDING") or _home_dir("pending"),
    )
    for name in ("gx", "trust", "state", "approvals", "pending"):
        value = getattr(args, name, None) if args is not None else None
        if value:
            setattr(cfg, name, value)
    # Absolute paths: gx runs in the tool call's cwd, not ours.
    cfg.gx = os.path.realpath(shutil.which(cfg.gx) or cfg.gx)
    for name in ("trust", "state", "approvals", "pending"):
        setattr(cfg, name, os.path.abspath(getattr(cfg, name)))
    return cfg


def approval_key(argv, cwd):
    """Stable name for one exact call: argv (argv[0] included) and cwd."""
    canon = json.dumps({"argv": list(argv), "cwd": os.path.realpath(cwd)},
                       separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canon.encode("utf-8")).hexdigest()


def approval_path(cfg, argv, cwd):
    return os.path.join(cfg.approvals, approval_key(argv, cwd) + ".toml")


def pending_path(cfg, argv, cwd):
    return os.path.join(cfg.pending, approval_key(argv, cwd) + ".toml")


def gx_run_argv(cfg, artifact, argv, *flags):
    """The one way a call runs: gx run with OUR trust store and state."""
    return [cfg.gx, "run", *flags, "--trust", cfg.trust, "--state", cfg.state,
            artifact, "--", *argv]


def dry_run(cfg, artifact, argv, cwd, timeout=30):
    """Would gx allow this call now? (Runs nothing, consumes no use.)
    Returns (allowed, one-line reason)."""
    try:
        p = subprocess.run(gx_run_argv(cfg, artifact, argv, "--dry-run", "--json"), cwd=cwd,
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    except (OSError, subprocess.SubprocessError) as e:
        return False, f"could not run gx: {e}"
    decision = parse_decision(p.stdout)
    if p.returncode == 0 and decision and decision.get("decision") == "allow":
        return True, "allow"
    if decision and decision.get("decision") == "deny":
        return False, denial_text(decision)
    return False, f"gx exit {p.returncode}: {p.stderr.decode('utf-8', 'replace').strip()[:400]}"


def parse_decision(raw):
    """The "decision" object of a gx run JSON report, or None."""
    try:
        report = json.loads(raw)
    except (ValueError, TypeError):
        return None
    decision = report.get("decision") if isinstance(report, dict) else None
    return decision if isinstance(decision, dict) else None


def denial_text(decision):
    """Same shape as gx's stderr: denied (<code>): <detail>."""
    return f"denied ({decision.get('reason', 'unknown')}): {decision.get('detail', '')}".rstrip(": ")
