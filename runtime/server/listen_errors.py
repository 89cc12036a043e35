"""One-line messages for the errors a newcomer meets first, shared by every verb that listens.

`[Errno 98] Address already in use` names neither the address nor the way out; these do.
"""

from __future__ import annotations

import errno


def bind_error(exc: OSError, host: str, port: int, flag: str = "--port") -> OSError:
    """An OSError whose message names `host:port`, why it cannot be bound, and the flag that
    picks another; `exc` itself for errors that are not about binding."""
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    if exc.filename is not None:  # a file's error (a log that cannot be read), not the socket's
        return exc
    if exc.errno == errno.EADDRINUSE:
        why = (f"the address is already in use (another server on port {port}?); "
               f"choose another with {flag} {port + 1 if port else 8001}, or {flag} 0 for any "
               "free port")
    elif exc.errno == errno.EADDRNOTAVAIL:
        why = f"{host} is not an address of this machine; use --host 127.0.0.1 or 0.0.0.0"
    elif exc.errno == errno.EACCES:
        why = f"port {port} needs privileges; choose one above 1023 with {flag}"
    else:
        return exc
    return OSError(f"cannot listen on {address}: {why}")
