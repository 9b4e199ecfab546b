"""Ready everything, then become the uwsgi server in this same process.

Usage: ``python3 -m placedock.serve UWSGI_ARG...`` (startup.sh passes ``--ini`` and any extra
uwsgi flags). pyuwsgi is uwsgi built as a Python extension: its own ``uwsgi`` command is this same
call. Running it here, after the database steps, means the app loads from modules this process
has already imported, which halves the time from start to first response.
"""

from __future__ import annotations

import sys

from placedock import PlacedockError, prepare


def main(argv: list[str]) -> int:
    try:
        prepare.prepare_server()
    except PlacedockError as error:
        prepare.log(f"error: {error}")
        return 1
    import pyuwsgi

    sys.argv = ["uwsgi", *argv[1:]]  # what uwsgi shows and re-execs with
    pyuwsgi.run(*argv[1:])  # never returns: uwsgi exits the process
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
