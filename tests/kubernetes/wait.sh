# shellcheck shell=bash
# What cluster.sh and smoke.sh share, sourced by both: waiting for a condition with a deadline.
# Each defines its own log, and points fd 3 at its real stderr (exec 3>&2) before sourcing this.

# wait_for SECONDS DESCRIPTION command...: runs the command, silenced, every half second until it
# succeeds; after SECONDS, logs that it timed out and returns 1. On fd 3: seen even when the
# wait itself runs inside a silenced predicate.
wait_for() {
	local timeout=$1 what=$2 deadline
	shift 2
	deadline=$((SECONDS + timeout))
	until "$@" >/dev/null 2>&1; do
		if [ "$SECONDS" -ge "$deadline" ]; then
			log "timed out after ${timeout}s waiting for $what" >&3
			return 1
		fi
		sleep 0.5
	done
}
