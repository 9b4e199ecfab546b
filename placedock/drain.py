"""Stop without losing a request: the front stops listening, answers what it has, then exits.

``SIGTERM`` reaches uwsgi (PID 1), whose ini routes it to uwsgi signal ``SIGNAL``, handled here
in a mule of its own: a worker might be busy for the whole request timeout, a mule never is.
The handler asks nginx (placedock.front) for its graceful stop (``SIGQUIT``):
1. nginx closes its listening socket: from then on a new connection is refused, which any
   client or balancer can retry elsewhere. nginx accepts each connection the moment it arrives,
   so only one the kernel completed in the instant between its last accept and the close is
   reset, unread (uwsgi's synchronous workers left 3-4 a stop in its queue under load; a socket
   filter dropping new SYNs first is refused to unprivileged processes here);
2. it sends every request it has read to the workers and their answers to the clients, and
   closes keep-alive connections as they fall idle;
3. it exits; uwsgi, whose control daemon it is, then stops its idle workers and exits 0.
"""

from __future__ import annotations

import os
import signal
import time

from placedock import front, logs

SIGNAL = 15  # uwsgi's signal numbers are its own; this one mirrors SIGTERM for the reader


def stop_front(stats_socket: str) -> str:
    """Ask nginx to stop gracefully; what happened, for the log."""
    path = front.pid_file(stats_socket)
    try:
        pid = int(path.read_text())
        os.kill(pid, signal.SIGQUIT)
    except (OSError, ValueError) as error:
        # No front to stop (it failed or is gone): uwsgi's own graceful stop instead.
        with open(f"{stats_socket}.fifo", "w") as master:
            master.write("q")
        return f"no front to stop ({error}); uwsgi stops on its own"
    return f"the front (nginx, pid {pid}) stops listening, answers what it has accepted, exits"


def _on_stop(signum: int) -> None:
    started = time.monotonic()
    message = stop_front(os.environ["PLACEDOCK_STATS_SOCKET"])
    print(logs.placedock_line(f"stopping: {message} ({time.monotonic() - started:.3f} s)"),
          flush=True)


def install() -> None:
    """In the uwsgi master, before the workers and mules fork: the first mule runs the stop."""
    import uwsgi  # only inside uwsgi

    uwsgi.register_signal(SIGNAL, "mule1", _on_stop)


def mule() -> None:
    """The first mule's body (``mule = placedock.drain:mule``): wait for signals, which run
    their handlers, until uwsgi stops it."""
    import uwsgi  # only inside uwsgi

    while True:
        uwsgi.signal_wait()
