# shellcheck shell=bash
# What bootstrap.sh and cleanup.sh share, sourced by both (never run): the label that marks what
# bootstrap.sh made, the state file where it records that for cleanup.sh, their option loop and
# help, and the kubectl port-forward that bootstrap.sh starts and both stop.

KUBECTL=${KUBECTL:-kubectl}
MANAGED_BY=placedock-bootstrap
# shellcheck disable=SC2034 # read by the scripts that source this file
LABEL=app.kubernetes.io/managed-by=$MANAGED_BY
NAMESPACE=placedock
# The state file: one key=value a line. Empty until --state or use_current_context sets it.
STATE=""
CONTEXT=""
# What log and die put before each line: the script's name without .sh.
SCRIPT_NAME=$(basename "$0" .sh)

log() { printf '%s: %s\n' "$SCRIPT_NAME" "$*"; }

die() {
	printf '%s: error: %s\n' "$SCRIPT_NAME" "$*" >&2
	exit 1
}

kube() { "$KUBECTL" "$@"; }

kns() { "$KUBECTL" --namespace "$NAMESPACE" "$@"; }

# usage: the script's opening comment block (after the #! line) is its help.
usage() {
	sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0" >&2
	exit 2
}

# parse_options ARG...: -h and --help show the usage; --namespace and --state, which mean the same
# to both scripts, are taken here; any other option goes to the script's take_option OPTION
# NEXT_ARG, which sets what the option says and returns 0 when the option takes NEXT_ARG as its
# value, 1 when it is a switch, and dies on an option it does not know.
parse_options() {
	while [ "$#" -gt 0 ]; do
		if take_shared_option "$1" "${2-}"; then
			# Checked after take_option: an unknown option is reported as unknown, not as valueless.
			[ "$#" -ge 2 ] || die "$1 needs a value (see --help)"
			shift
		fi
		shift
	done
}

take_shared_option() {
	case $1 in
		-h | --help) usage ;;
		--namespace) NAMESPACE=$2 ;;
		--state) STATE=$2 ;;
		*) take_option "$@" ;;
	esac
}

# use_current_context: CONTEXT is kubectl's current context, and STATE (unless --state set it)
# the state file bootstrap.sh keeps for that context and namespace.
use_current_context() {
	CONTEXT=$(kube config current-context) || die "no current kubectl context (is the cluster up?)"
	if [ -z "$STATE" ]; then
		STATE=${XDG_STATE_HOME:-$HOME/.local/state}/placedock/bootstrap-$CONTEXT-$NAMESPACE.state
	fi
}

# state_all KEY: every value recorded for KEY, oldest first (nothing when there is no state file).
state_all() { [ ! -f "$STATE" ] || sed -n "s/^$1=//p" "$STATE"; }

# state_get KEY: the value last recorded for KEY.
state_get() { state_all "$1" | tail -n 1; }

# state_add KEY VALUE: one more value for KEY (a list, such as the image tags), recorded once.
state_add() {
	grep -qxF "$1=$2" "$STATE" 2>/dev/null || printf '%s=%s\n' "$1" "$2" >>"$STATE"
}

# state_set KEY VALUE: KEY's only value.
state_set() {
	local others
	others=$(grep -v "^$1=" "$STATE" 2>/dev/null || true)
	{
		[ -z "$others" ] || printf '%s\n' "$others"
		printf '%s=%s\n' "$1" "$2"
	} >"$STATE"
}

port_forward_log() { printf '%s\n' "${STATE%.state}.port-forward.log"; }

# stop_port_forward: bootstrap.sh's kubectl port-forward, if it still runs. The PID is checked to
# be a port-forward first: the process may have ended and its number gone to another.
stop_port_forward() {
	local pid
	pid=$(state_get port_forward_pid)
	[ -n "$pid" ] || return 0
	if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q port-forward; then
		kill "$pid" 2>/dev/null || true
		log "stopped kubectl port-forward (PID $pid)"
	fi
	state_set port_forward_pid ""
}
