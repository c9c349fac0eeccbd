"""A small blocking client of ClamAV's daemon (clamd): ``INSTREAM`` over a Unix socket or TCP.

Protocol (clamd(8), "COMMANDS"): send ``zINSTREAM\\0``, then the file as chunks, each a 4-byte
big-endian length followed by that many bytes, then a zero length; clamd answers one line ending
in ``\\0``: ``stream: OK``, ``stream: <signature> FOUND``, or ``... ERROR`` (for example ``INSTREAM
size limit exceeded. ERROR`` past its ``StreamMaxLength``). Blocking by design: the Synapse module
runs it on Synapse's thread pool (``ModuleApi.defer_to_thread``), never on the reactor.

Addresses: ``unix:/run/clamav/clamd.ctl`` or a plain absolute path for a Unix socket;
``tcp:HOST:PORT`` (or ``tcp://HOST:PORT``) for TCP.
"""

from __future__ import annotations

import socket
import struct
from pathlib import Path

from policies.media import clamd_address

CHUNK = 64 * 1024


class ScanUnavailable(Exception):
    """clamd could not scan the file (not running, timed out, refused the stream, or answered an
    error); the message says which."""


def parse_address(address: str) -> tuple[int, str | tuple[str, int]]:
    """``(socket family, address)`` for ``socket.connect`` (``policies.media.clamd_address`` reads the
    text). Raises ValueError for an unknown form."""
    kind, host, port = clamd_address(address)
    if kind == "unix":
        return socket.AF_UNIX, host
    return socket.AF_INET6 if ":" in host else socket.AF_INET, (host, port)


def scan_file(address: str, path: str | Path, timeout: float) -> str | None:
    """Stream the file at ``path`` to clamd at ``address``; the signature name clamd found (e.g.
    ``Eicar-Test-Signature``), or None when the file is clean. ``timeout``: seconds for each socket
    operation. Raises ScanUnavailable; ValueError for a malformed address."""
    family, target = parse_address(address)
    try:
        with socket.socket(family, socket.SOCK_STREAM) as sock, open(path, "rb") as f:
            sock.settimeout(timeout)
            sock.connect(target)
            sock.sendall(b"zINSTREAM\0")
            while chunk := f.read(CHUNK):
                sock.sendall(struct.pack("!L", len(chunk)) + chunk)
            sock.sendall(struct.pack("!L", 0))
            reply = _read_reply(sock)
    except OSError as e:  # includes timeouts and a socket clamd closed mid-stream (size limit)
        raise ScanUnavailable(f"clamd at {address}: {e}") from e
    return parse_reply(reply)


def _read_reply(sock: socket.socket) -> bytes:
    reply = b""
    while not reply.endswith(b"\0"):
        data = sock.recv(4096)
        if not data:
            break
        reply += data
    return reply


def parse_reply(reply: bytes) -> str | None:
    """The signature of ``stream: NAME FOUND``, None for ``stream: OK``. Raises ScanUnavailable for
    anything else (an ``ERROR`` reply, an empty one)."""
    text = reply.rstrip(b"\0").decode("utf-8", "replace").strip()
    _, _, result = text.partition(": ")
    if result == "OK":
        return None
    if result.endswith(" FOUND"):
        return result.removesuffix(" FOUND").strip() or "unknown"
    raise ScanUnavailable(f"clamd answered {text!r}")
