#!/usr/bin/env bash
# Remove what bootstrap.sh made, and nothing else: the objects it labelled
# app.kubernetes.io/managed-by=placedock-bootstrap in its namespace, the namespace if it made it,
# its kubectl port-forward, the image tags it built, and its state file.
#
#   ./cleanup.sh [--namespace NS] [--state FILE] [--keep-images] [--timeout DURATION]
#     (the same --namespace / --state as given to bootstrap.sh)
set -eu

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=kubernetes/lib.sh
. "$HERE/kubernetes/lib.sh"

KINDS=horizontalpodautoscalers.autoscaling,poddisruptionbudgets.policy,networkpolicies.networking.k8s.io,deployments.apps,replicasets.apps,pods,services,secrets
KEEP_IMAGES=no
TIMEOUT=120s

# take_option OPTION NEXT_ARG: see parse_options (kubernetes/lib.sh). A switch returns 1: it
# takes no value.
take_option() {
	case $1 in
		--keep-images) KEEP_IMAGES=yes && return 1 ;;
		--timeout) TIMEOUT=$2 ;;
		*) die "unknown option $1 (see --help)" ;;
	esac
}

delete_objects() {
	if ! kube get namespace "$NAMESPACE" >/dev/null 2>&1; then
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
	kube get namespace "$NAMESPACE" >/dev/null 2>&1 || return 0
	local owner
	owner=$(kube get namespace "$NAMESPACE" \
		-o 'jsonpath={.metadata.labels.app\.kubernetes\.io/managed-by}')
	if [ "$owner" != "$MANAGED_BY" ]; then
		log "namespace $NAMESPACE is not labelled as bootstrap.sh's: kept"
		return 0
	fi
	if [ -n "$(kns get all -o name 2>/dev/null)" ]; then
		log "namespace $NAMESPACE holds objects bootstrap.sh did not make: kept"
		return 0
	fi
	log "deleting namespace $NAMESPACE (bootstrap.sh made it)"
	kube delete namespace "$NAMESPACE" --wait=true --timeout="$TIMEOUT" >/dev/null
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
	parse_options "$@"
	# The context only names the default state file: with --state, none is needed.
	[ -n "$STATE" ] || use_current_context
	[ -f "$STATE" ] || die "no state file $STATE: nothing bootstrap.sh made is known here"
	log "state $STATE, namespace $NAMESPACE"
	stop_port_forward
	delete_objects
	delete_namespace
	remove_images
	rm -f "$STATE" "$(port_forward_log)"
	log "done"
}

main "$@"
