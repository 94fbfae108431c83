"""Hand-made gx broker frames for the adversarial tests (docs/broker.md, "Protocol").

Import with PYTHONPATH=tests/adversarial. Nothing here checks what the broker accepts:
these are the raw bytes an attacker would send.
"""
import socket
import struct

PATH_ENV = b"PATH=/usr/bin:/bin"


def field(tag, value):
    return struct.pack(">HI", tag, len(value)) + value


def frame(kind, payload, version=1):
    return b"GXBR" + bytes([version, kind, 0, 0]) + struct.pack(">I", len(payload)) + payload


def request_body(artifact_bytes, argv, env=(PATH_ENV,), cwd=b"/", name=None, flags=0):
    """The fields of a request frame: artifact, [name], argv..., env..., cwd, flags."""
    body = field(1, artifact_bytes) + (field(2, name) if name is not None else b"")
    for arg in argv:
        body += field(3, arg)
    for entry in env:
        body += field(4, entry)
    return body + field(5, cwd) + field(6, struct.pack(">I", flags))


def ask(sock_path, data, fds=(0, 1, 2), timeout=10):
    """Connects, sends `data` (with `fds` attached), returns every byte until EOF or timeout."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock_path)
    try:
        socket.send_fds(s, [data], list(fds)) if fds else s.sendall(data)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the broker closes on a refusal, possibly before reading all we sent
    s.settimeout(timeout)
    got = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
    except (socket.timeout, ConnectionResetError):
        pass
    s.close()
    return got


def hold(sock_path, n):
    """n connections that say nothing, held open (each takes a worker slot or is refused busy)."""
    held = []
    for _ in range(n):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(sock_path)
        held.append(s)
    return held


def busy_answers(held, timeout):
    """How many of the `held` connections were answered busy within `timeout` s each; closes them all."""
    busy = 0
    for s in held:
        s.settimeout(timeout)
        try:
            data = s.recv(4096)
        except socket.timeout:
            data = b""
        if b"busy" in data:
            busy += 1
        s.close()
    return busy


def summary(name, got, limit=300):
    """One line: the name, the first answer frame's kind, its printable text."""
    kind = got[5] if len(got) > 5 else 0
    text = "".join(c if c.isprintable() else "." for c in got[12:limit].decode("utf-8", "replace"))
    return f"{name} {'error' if kind == 5 else 'report' if kind == 3 else 'none'} {text}"
