#!/usr/bin/env bash
# Start placedock on http://127.0.0.1:8081 with its embedded sqlite and noauth2, in the
# foreground (Ctrl-C stops it; the data goes with it).
#   ./quickstart.sh           in Docker when an engine answers, else in a local virtualenv
#   ./quickstart.sh --local   always in the local virtualenv (.venv), same entrypoint
set -eu

cd "$(dirname "${BASH_SOURCE[0]}")"
PORT=${QUICKSTART_PORT:-8081}

log() { printf 'quickstart: %s\n' "$*" >&2; }

in_docker() {
	log "building the image and running it on 127.0.0.1:$PORT"
	docker build -q -t placedock . >/dev/null
	exec docker run --rm -t -p "127.0.0.1:$PORT:80" \
		-e "DB_SYNC=True" -e "OS_API__AUTH_STRATEGY=noauth2" placedock
}

in_virtualenv() {
	if ! python3 -c 'import ensurepip, venv' 2>/dev/null && [ "$(id -u)" -eq 0 ]; then
		apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
	fi
	[ -x .venv/bin/python ] || python3 -m venv .venv
	log "installing placement into .venv"
	.venv/bin/pip install -q --disable-pip-version-check -r placement-requirements.txt
	local data
	data=$(mktemp -d "${TMPDIR:-/tmp}/placedock.XXXXXX")
	log "serving on 127.0.0.1:$PORT, sqlite in $data"
	PATH="$PWD/.venv/bin:$PATH" DB_SYNC=True OS_API__AUTH_STRATEGY=noauth2 \
		PLACEDOCK_ADDRESS=127.0.0.1 PLACEDOCK_PORT="$PORT" PLACEDOCK_DATA_DIR="$data" \
		exec ./startup.sh
}

if [ "${1:-}" != --local ] && command -v docker >/dev/null && docker info >/dev/null 2>&1; then
	in_docker
fi
in_virtualenv
