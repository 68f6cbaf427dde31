"""A virus scan of an uploaded file through a ClamAV daemon (clamd), when one is configured (settings.CLAMD_ADDRESS).

clamd's INSTREAM command (clamd(8), "INSTREAM"): after `zINSTREAM\\0` the file is sent in chunks, each prefixed
by its length as a 4-byte big-endian number, ended by a zero length; clamd answers `stream: OK`,
`stream: <signature> FOUND` or `… ERROR`. No maintained Python client of clamd exists (the packages on PyPI
were last released years ago), and the protocol is these few lines, so it is written here.

Fail closed: when clamd is configured and cannot be reached, answers an error, or takes longer than
CLAMD_TIMEOUT seconds, the file is refused (ScanUnavailable) rather than taken unscanned.
"""

from __future__ import annotations

import socket
import struct
from typing import BinaryIO

from django.conf import settings

CHUNK = 64 * 1024


class ScanUnavailable(Exception):
    """clamd is configured but could not give an answer (down, refused, timed out, or an ERROR reply)."""


class Infected(Exception):
    """clamd found something; the signature name is the message (for the log, never shown to residents)."""


def configured() -> bool:
    return bool(getattr(settings, "CLAMD_ADDRESS", ""))


def _connect() -> socket.socket:
    address = settings.CLAMD_ADDRESS
    timeout = settings.CLAMD_TIMEOUT
    if address.startswith("unix:"):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        sock.connect(address[len("unix:") :])
        return sock
    host, _, port = address.rpartition(":")
    return socket.create_connection((host.strip("[]"), int(port)), timeout=timeout)


def scan(stream: BinaryIO) -> None:
    """Scan the whole of `stream` (read from where it stands to its end). Returns when clamd says OK.

    Raises Infected (with the signature) or ScanUnavailable. Does nothing when clamd is not configured.
    """
    if not configured():
        return
    try:
        with _connect() as sock:
            sock.sendall(b"zINSTREAM\0")
            while chunk := stream.read(CHUNK):
                sock.sendall(struct.pack(">I", len(chunk)) + chunk)
            sock.sendall(struct.pack(">I", 0))
            reply = b""
            while not reply.endswith(b"\0") and len(reply) < 4096:
                part = sock.recv(4096)
                if not part:
                    break
                reply += part
    except (OSError, ValueError) as exc:
        raise ScanUnavailable(type(exc).__name__) from exc
    text = reply.rstrip(b"\0").decode("utf-8", "replace").strip()
    if text.endswith(" OK"):
        return
    if text.endswith(" FOUND"):
        raise Infected(text.removeprefix("stream:").removesuffix("FOUND").strip()[:200])
    raise ScanUnavailable(text[:200] or "no reply")
