#!/usr/bin/env bash
# placedock's entrypoint: environment in, database ready, then exec uwsgi (or a given command).
#   startup.sh                    serve placement (uwsgi becomes this process, PID 1 in a container)
#   startup.sh --some-uwsgi-flag  serve, with extra uwsgi options
#   startup.sh COMMAND [ARG...]   run COMMAND with the same environment handling instead
#   startup.sh conf-to-env [...]  turn a placement.conf (stdin) into an env-file (stdout)
#   startup.sh db-init            create placement's database and user (PLACEDOCK_DB_ADMIN_CONNECTION)
#   startup.sh ks-register        register placement in keystone (an admin's OS_AUTH_URL, OS_USERNAME...)
#   startup.sh db-backup [FILE]   back placement's database up with its own tool (PLACEDOCK_BACKUP_FILE)
#   startup.sh db-restore [FILE]  restore such a backup into an empty database, then migrate it
#   startup.sh db-copy            copy placement's data to PLACEDOCK_COPY_TARGET_CONNECTION's database
#   startup.sh db-migrate-data    placement's online data migrations, then its upgrade check
set -eu

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
UWSGI_INI="$HERE/shared/placement-uwsgi.ini"

# The placedock Python package sits beside this script, in the image and in a checkout.
export PYTHONPATH="$HERE${PYTHONPATH:+:$PYTHONPATH}"

# For a command: check the environment (resolving *_FILE secrets) and take the resulting
# variables, which placedock.prepare prints as shell export lines. An error is one line on
# stderr and a non-zero exit.
prepare_command_environment() {
	local exports
	exports=$(python3 -m placedock.prepare) || exit $?
	eval "$exports"
}

main() {
	if [ "$#" -eq 0 ] || [ "${1#-}" != "$1" ]; then
		# The server: placedock.serve checks the environment, waits for the database, migrates
		# it (DB_SYNC) or checks it, then becomes uwsgi in the same process (pyuwsgi), so that
		# placement's modules are imported once. After this exec, uwsgi is this process.
		exec python3 -m placedock.serve --ini "$UWSGI_INI" "$@"
	fi
	if [ "$1" = conf-to-env ]; then
		# It reads a placement.conf, not this environment: nothing here needs to be valid yet.
		shift
		exec python3 -m placedock.conf_to_env "$@"
	fi
	if [ "$1" = db-init ]; then
		# Its own variables (an administrator's URL), which the server must never be given.
		exec python3 -m placedock.db_init
	fi
	if [ "$1" = ks-register ]; then
		# An administrator's OpenStack client variables, which the server would refuse.
		exec python3 -m placedock.ks_register
	fi
	case "$1" in
		db-backup | db-restore | db-copy)
			# The server's database URL and a variable of their own, which the server refuses.
			local module=${1//-/_}
			shift
			exec python3 -m "placedock.$module" "$@"
			;;
		db-migrate-data)
			# The server's whole environment (placement-manage reads it), checked there, less the
			# batch size it reads itself.
			exec python3 -m placedock.db_migrate_data
			;;
	esac
	prepare_command_environment
	exec "$@"
}

main "$@"
