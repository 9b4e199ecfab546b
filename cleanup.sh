#!/usr/bin/env bash
# Remove what bootstrap.sh made, and nothing else: the objects it labelled
# app.kubernetes.io/managed-by=placedock-bootstrap in its namespace, the namespace if it made it,
# its kubectl port-forward, the image tags it built, and its state file.
#
#   ./cleanup.sh [--namespace NS] [--state FILE] [--keep-images] [--timeout DURATION]
#     (the same --namespace / --state as given to bootstrap.sh)
set -eu

KUBECTL=${KUBECTL:-kubectl}
LABEL=app.kubernetes.io/managed-by=placedock-bootstrap
KINDS=horizontalpodautoscalers.autoscaling,poddisruptionbudgets.policy,deployments.apps,replicasets.apps,pods,services,secrets

NAMESPACE=placedock
STATE=""
KEEP_IMAGES=no
TIMEOUT=120s

log() { printf 'cleanup: %s\n' "$*"; }
die() { printf 'cleanup: error: %s\n' "$*" >&2; exit 1; }
kns() { "$KUBECTL" --namespace "$NAMESPACE" "$@"; }

parse_args() {
	while [ "$#" -gt 0 ]; do
		case $1 in
			--namespace) NAMESPACE=$2; shift ;;
			--state) STATE=$2; shift ;;
			--keep-images) KEEP_IMAGES=yes ;;
			--timeout) TIMEOUT=$2; shift ;;
			-h | --help) sed -n '2,8s/^# \{0,1\}//p' "$0" >&2; exit 2 ;;
			*) die "unknown option $1" ;;
		esac
		shift
	done
	if [ -z "$STATE" ]; then
		local context
		context=$("$KUBECTL" config current-context) || die "no current kubectl context"
		STATE=${XDG_STATE_HOME:-$HOME/.local/state}/placedock/bootstrap-$context-$NAMESPACE.state
	fi
	[ -f "$STATE" ] || die "no state file $STATE: nothing bootstrap.sh made is known here"
}

state_get() { sed -n "s/^$1=//p" "$STATE" | tail -n 1; }
state_all() { sed -n "s/^$1=//p" "$STATE"; }

stop_port_forward() {
	local pid
	pid=$(state_get port_forward_pid)
	[ -n "$pid" ] || return 0
	if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q port-forward; then
		kill "$pid" 2>/dev/null || true
		log "stopped kubectl port-forward (PID $pid)"
	fi
}

delete_objects() {
	if ! "$KUBECTL" get namespace "$NAMESPACE" >/dev/null 2>&1; then
		log "namespace $NAMESPACE is gone already"
		return 0
	fi
	log "deleting objects labelled $LABEL in namespace $NAMESPACE"
	kns delete "$KINDS" -l "$LABEL" --ignore-not-found --wait=true --timeout="$TIMEOUT" |
		sed 's/^/cleanup:   /'
	# Pods go with their Deployment; wait for them, so nothing of ours is left running.
	kns wait --for=delete pod -l "$LABEL" --timeout="$TIMEOUT" >/dev/null 2>&1 || true
}

delete_namespace() {
	[ "$(state_get namespace_created)" = yes ] || return 0
	"$KUBECTL" get namespace "$NAMESPACE" >/dev/null 2>&1 || return 0
	local owner
	owner=$("$KUBECTL" get namespace "$NAMESPACE" \
		-o 'jsonpath={.metadata.labels.app\.kubernetes\.io/managed-by}')
	if [ "$owner" != placedock-bootstrap ]; then
		log "namespace $NAMESPACE is not labelled as bootstrap.sh's: kept"
		return 0
	fi
	if [ -n "$(kns get all -o name 2>/dev/null)" ]; then
		log "namespace $NAMESPACE holds objects bootstrap.sh did not make: kept"
		return 0
	fi
	log "deleting namespace $NAMESPACE (bootstrap.sh made it)"
	"$KUBECTL" delete namespace "$NAMESPACE" --wait=true --timeout="$TIMEOUT" >/dev/null
}

remove_images() {
	[ "$KEEP_IMAGES" = no ] || return 0
	command -v docker >/dev/null 2>&1 || return 0
	if [ "$(state_get load)" = minikube ]; then
		eval "$(minikube docker-env)"
	fi
	local image
	while read -r image; do
		[ -n "$image" ] || continue
		# Untag only: layers another tag still uses stay.
		if docker image inspect "$image" >/dev/null 2>&1; then
			if docker rmi "$image" >/dev/null 2>&1; then
				log "removed image tag $image"
			else
				log "image $image is in use: kept"
			fi
		fi
	done < <(state_all image)
}

main() {
	parse_args "$@"
	log "state $STATE, namespace $NAMESPACE"
	stop_port_forward
	delete_objects
	delete_namespace
	remove_images
	rm -f "$STATE" "${STATE%.state}.port-forward.log"
	log "done"
}

main "$@"
