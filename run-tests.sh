#!/usr/bin/env bash
# Run every placedock test, installing what they need first.
#   ./run-tests.sh                 everything: lint, unit, end to end, Docker, Kubernetes, keystone
#   ./run-tests.sh -k docker       any pytest arguments narrow the run
# As root on Debian it apt-installs the servers the tests start (PostgreSQL, MariaDB, dockerd,
# memcached, Apache, ...). Elsewhere, tests whose servers are missing are skipped with a loud
# "NOT TESTED" warning; with CI set, a missing prerequisite fails the run instead.
set -eu

cd "$(dirname "${BASH_SOURCE[0]}")"
VENV=${TESTS_VENV:-.venv}
SYSTEM_PACKAGES=(
	postgresql mariadb-server docker.io debootstrap shellcheck memcached apache2 curl
	iptables wrk apache2-utils prometheus libjemalloc2 docker-compose nginx
)

log() { printf 'run-tests: %s\n' "$*" >&2; }

install_system_packages() {
	local missing=() package
	for package in "${SYSTEM_PACKAGES[@]}"; do
		dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'ok installed' ||
			missing+=("$package")
	done
	[ "${#missing[@]}" -eq 0 ] && return
	if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
		log "not root on Debian: cannot install ${missing[*]}; tests needing them will be skipped"
		return
	fi
	log "installing ${missing[*]}"
	apt-get update -qq
	# Debian's packages would start their services (nginx's on port 80 of the host); the tests
	# start their own, by PID. So no service starts while they install (policy-rc.d says no).
	local refuse_start=""
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod +x /usr/sbin/policy-rc.d
		refuse_start=yes
	fi
	local status=0
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" \
		>/dev/null || status=$?
	[ -z "$refuse_start" ] || rm -f /usr/sbin/policy-rc.d
	return "$status"
}

install_python_packages() {
	local stamp="$VENV/.placedock-requirements"
	local wanted
	wanted=$(cat placement-requirements.txt test-requirements.txt | sha256sum)
	if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ]; then
		return
	fi
	log "installing Python packages into $VENV"
	python3 -m venv "$VENV"
	"$VENV/bin/pip" install -q --disable-pip-version-check \
		-r placement-requirements.txt -r test-requirements.txt
	printf '%s\n' "$wanted" >"$stamp"
}

main() {
	install_system_packages
	install_python_packages
	log "running pytest"
	exec "$VENV/bin/python" -m pytest "$@"
}

main "$@"
