"""Free TCP port helpers for embedded dev servers."""

from __future__ import annotations

import socket
from contextlib import ExitStack


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that is currently free on ``host``.

    Args:
        host: Interface address to probe.

    Returns:
        A port number the OS just handed out; it may be taken again by the time it is used.
    """
    return free_ports(1, host)[0]


def free_ports(count: int, host: str = "127.0.0.1", *, avoid_offset: int = 0) -> list[int]:
    """Return ``count`` distinct free TCP ports on ``host``.

    All sockets stay bound until every port is chosen, so the ports differ from each other.

    Args:
        count: How many ports to return.
        host: Interface address to probe.
        avoid_offset: When non-zero, also reject ports whose ``port + avoid_offset`` collides
            with another chosen port (SeaweedFS derives gRPC ports as port + 10000).

    Returns:
        The chosen ports, in allocation order.
    """
    chosen: list[int] = []
    with ExitStack() as stack:
        while len(chosen) < count:
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind((host, 0))
            port = int(sock.getsockname()[1])
            taken = set(chosen)
            if avoid_offset and (port + avoid_offset in taken or port - avoid_offset in taken):
                continue
            chosen.append(port)
    return chosen
