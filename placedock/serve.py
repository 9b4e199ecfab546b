"""Ready everything, then become the uwsgi server in this same process.

Usage: ``python3 -m placedock.serve UWSGI_ARG...`` (startup.sh passes ``--ini`` and any extra
uwsgi flags). pyuwsgi is uwsgi built as a Python extension: its own ``uwsgi`` command is this same
call. Running it here, after the database steps, means the app loads from modules this process
has already imported, which halves the time from start to first response.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from placedock import PlacedockError, early_stop

if TYPE_CHECKING:
    from placedock.environment import Settings


def ready_uwsgi_features(settings: Settings) -> list[str]:
    """Ready what the checked environment asks for beyond the ini (the front's configuration,
    the metrics' empty folder, JSON output from uwsgi's first line), and return uwsgi's options
    for it."""
    from placedock import front, logs, metrics

    options = front.prepare(settings.address, settings.port, settings.stats_socket,
                            settings.max_body_size, settings.request_timeout, settings.tls)
    if metrics.port():
        metrics.prepare_directory(os.environ["PLACEDOCK_STATS_SOCKET"])
        options.append("--mule=placedock.metrics:serve")  # optional argument: "=" needed
    if logs.is_json():
        logs.start_json_output()
        options += ["--log-master", f"--log-encoder={logs.UWSGI_ENCODER}", "--log-encoder=nl"]
    return options


def main(argv: list[str]) -> int:
    # First, before the imports (a second or more on a busy machine): see placedock.early_stop.
    early_stop.install()
    try:
        from placedock import prepare

        settings = prepare.prepare_server()
        arguments = [*argv[1:], *ready_uwsgi_features(settings)]
        import pyuwsgi
    except PlacedockError as error:
        prepare.log(f"error: {error}")
        return 1
    except early_stop.StopRequested as stop:
        # A stop is what was asked for, and done: the status uwsgi's graceful stop gives too.
        from placedock import prepare

        prepare.log(f"stopped by {stop} before serving")
        return 0
    sys.argv = ["uwsgi", *arguments]  # what uwsgi shows and re-execs with
    pyuwsgi.run(*arguments)  # never returns: uwsgi exits the process
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
