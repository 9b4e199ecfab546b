#!/usr/bin/env bash
# placedock on Kubernetes, on minikube or on the current kubectl context: build the image, make
# it reachable by the cluster, deploy placedock (deployment.yaml) over a shared PostgreSQL
# (postgresql.yaml in the cluster, or yours with --database-url) with its autoscaler
# (autoscaler.yaml), wait for it, expose it, print its URL and check it with curl and gabbi.
# Safe to run twice; cleanup.sh removes what it made, and nothing else.
#
#   ./bootstrap.sh [options]
#     --namespace NS          namespace to use, made if missing (default: placedock)
#     --image REPO            image repository to build and tag (default: placedock)
#     --no-build              do not build: --image is a complete reference to deploy as is
#     --load WHERE            get the image to the cluster: minikube (build in minikube's docker),
#                             kind (kind load docker-image), none (the cluster shares this docker)
#                             (default: guessed from the kubectl context)
#     --push REGISTRY         push the image to REGISTRY and deploy it from there
#     --build-flag FLAG       extra `docker build` flag, repeatable (also DOCKER_BUILD_FLAGS)
#     --database-url URL      use this database instead of an in-cluster PostgreSQL
#     --replicas N            replicas to start with (default 1; the autoscaler then decides)
#     --hpa-api VERSION       autoscaling/v2 (Kubernetes >= 1.23) or autoscaling/v2beta2
#                             (default: v2 when the cluster serves it)
#     --expose HOW            loadbalancer, nodeport or port-forward (default: NodePort on
#                             minikube; elsewhere a LoadBalancer, else a port-forward)
#     --node-port PORT        the NodePort to ask for (with --expose nodeport)
#     --node-address ADDR     the address NodePorts answer on (default: minikube ip, or the
#                             node's InternalIP)
#     --local-port PORT       port-forward's local port on 127.0.0.1 (default: 8081)
#     --state FILE            what was made, for cleanup.sh (default:
#                             ~/.local/state/placedock/bootstrap-CONTEXT-NAMESPACE.state)
#     --timeout DURATION      for each rollout (default: 300s)
#     --no-gabbi              do not run gabbi-run against the service
#     --tls-cert FILE         serve HTTPS only: this PEM certificate (its chain after it) and
#     --tls-key FILE          its key go into the kubernetes.io/tls Secret placedock-tls
#     --tls-secret NAME       serve HTTPS only with an existing kubernetes.io/tls Secret
#                             (cert-manager's, say) instead
#     --tls-ca FILE           the CA bootstrap.sh checks the service's certificate with (else
#                             its own checks skip the check, and say so)
#     --network-policy        apply networkpolicy.yaml: the API only from this namespace and
#                             pods labelled placedock.openstack.org/client=true, the metrics only
#                             from the namespace monitoring (without it, a policy a previous run
#                             applied is removed)
set -eu

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=kubernetes/lib.sh
. "$HERE/kubernetes/lib.sh"

IMAGE=placedock
BUILD=yes
LOAD=auto
PUSH=""
BUILD_FLAGS=()
DATABASE_URL=""
REPLICAS=1
HPA_API=auto
EXPOSE=auto
NODE_PORT=""
NODE_ADDRESS=""
LOCAL_PORT=8081
TIMEOUT=300s
GABBI=yes
TLS_CERT=""
TLS_KEY=""
TLS_SECRET=""
TLS_CA=""
NETWORK_POLICY=no
# The kubernetes.io/tls Secret --tls-cert and --tls-key make, and where the pods mount it.
OWN_TLS_SECRET=placedock-tls
TLS_MOUNT=/etc/placedock/tls

# take_option OPTION NEXT_ARG: see parse_options (kubernetes/lib.sh). A switch returns 1: it
# takes no value.
take_option() {
	case $1 in
		--image) IMAGE=$2 ;;
		--no-build) BUILD=no && return 1 ;;
		--load) LOAD=$2 ;;
		--push) PUSH=$2 ;;
		--build-flag) BUILD_FLAGS+=("$2") ;;
		--database-url) DATABASE_URL=$2 ;;
		--replicas) REPLICAS=$2 ;;
		--hpa-api) HPA_API=$2 ;;
		--expose) EXPOSE=$2 ;;
		--node-port) NODE_PORT=$2 ;;
		--node-address) NODE_ADDRESS=$2 ;;
		--local-port) LOCAL_PORT=$2 ;;
		--timeout) TIMEOUT=$2 ;;
		--no-gabbi) GABBI=no && return 1 ;;
		--tls-cert) TLS_CERT=$2 ;;
		--tls-key) TLS_KEY=$2 ;;
		--tls-secret) TLS_SECRET=$2 ;;
		--tls-ca) TLS_CA=$2 ;;
		--network-policy) NETWORK_POLICY=yes && return 1 ;;
		*) die "unknown option $1 (see --help)" ;;
	esac
}

check_options() {
	case $LOAD in auto | minikube | kind | none) ;; *) die "--load: minikube, kind or none" ;; esac
	case $EXPOSE in auto | loadbalancer | nodeport | port-forward) ;; *) die "--expose: loadbalancer, nodeport or port-forward" ;; esac
	case $HPA_API in auto | autoscaling/v2 | autoscaling/v2beta2) ;; *) die "--hpa-api: autoscaling/v2 or autoscaling/v2beta2" ;; esac
	case $REPLICAS in '' | *[!0-9]*) die "--replicas: a number" ;; esac
	case $NODE_PORT in *[!0-9]*) die "--node-port: a number" ;; esac
	if [ -n "$TLS_CERT$TLS_KEY" ]; then
		if [ -z "$TLS_CERT" ] || [ -z "$TLS_KEY" ]; then
			die "--tls-cert and --tls-key go together"
		fi
		[ -z "$TLS_SECRET" ] || die "--tls-secret or --tls-cert and --tls-key, not both"
		[ -r "$TLS_CERT" ] || die "--tls-cert: cannot read $TLS_CERT"
		[ -r "$TLS_KEY" ] || die "--tls-key: cannot read $TLS_KEY"
		TLS_SECRET=$OWN_TLS_SECRET
	fi
	[ -z "$TLS_CA" ] || [ -r "$TLS_CA" ] || die "--tls-ca: cannot read $TLS_CA"
	[ -z "$TLS_CA" ] || [ -n "$TLS_SECRET" ] || die "--tls-ca: only with HTTPS (--tls-cert or --tls-secret)"
}

init_state() {
	use_current_context
	kube version >/dev/null || die "the cluster of context $CONTEXT does not answer"
	mkdir -p "$(dirname "$STATE")"
	touch "$STATE"
	state_set context "$CONTEXT"
	state_set namespace "$NAMESPACE"
	log "context $CONTEXT, namespace $NAMESPACE, state in $STATE"
	if [ "$LOAD" = auto ]; then
		case $CONTEXT in
			minikube) LOAD=minikube ;;
			kind-*) LOAD=kind ;;
			*) LOAD=none ;;
		esac
	fi
	state_set load "$LOAD"
	if [ "$HPA_API" = auto ]; then
		HPA_API=autoscaling/v2
		kube api-versions | grep -qx autoscaling/v2 || HPA_API=autoscaling/v2beta2
	fi
	# PodDisruptionBudget: policy/v1 from Kubernetes 1.21 on, policy/v1beta1 before.
	PDB_API=policy/v1
	kube api-versions | grep -qx policy/v1 || PDB_API=policy/v1beta1
	if [ "$EXPOSE" = auto ]; then
		EXPOSE=loadbalancer
		[ "$LOAD" != minikube ] || EXPOSE=nodeport
	fi
}

# --- the image --------------------------------------------------------------------------------

build_image() {
	DEPLOY_IMAGE=$IMAGE
	if [ "$BUILD" = no ]; then
		log "image $DEPLOY_IMAGE (not built: --no-build)"
		return 0
	fi
	if [ "$LOAD" = minikube ]; then
		log "using minikube's docker (minikube docker-env)"
		eval "$(minikube docker-env)"
	fi
	local out id
	out=$(mktemp)
	log "building $IMAGE from $HERE ${BUILD_FLAGS[*]}"
	if ! docker build "${BUILD_FLAGS[@]}" -t "$IMAGE:bootstrap" "$HERE" >"$out" 2>&1; then
		tail -n 30 "$out" >&2
		rm -f "$out"
		die "docker build failed"
	fi
	rm -f "$out"
	# Tagged by content: a changed image is a new tag, so applying rolls the pods.
	id=$(docker image inspect --format '{{.Id}}' "$IMAGE:bootstrap")
	id=${id#sha256:}
	DEPLOY_IMAGE=$IMAGE:${id:0:12}
	docker tag "$IMAGE:bootstrap" "$DEPLOY_IMAGE"
	state_add image "$IMAGE:bootstrap"
	state_add image "$DEPLOY_IMAGE"
	log "built $DEPLOY_IMAGE"
	if [ -n "$PUSH" ]; then
		docker tag "$DEPLOY_IMAGE" "$PUSH/$DEPLOY_IMAGE"
		state_add image "$PUSH/$DEPLOY_IMAGE"
		log "pushing $PUSH/$DEPLOY_IMAGE"
		docker push "$PUSH/$DEPLOY_IMAGE" >/dev/null
		DEPLOY_IMAGE=$PUSH/$DEPLOY_IMAGE
	elif [ "$LOAD" = kind ]; then
		log "loading $DEPLOY_IMAGE into kind cluster ${CONTEXT#kind-}"
		kind load docker-image "$DEPLOY_IMAGE" --name "${CONTEXT#kind-}" >/dev/null
	fi
}

# --- objects ----------------------------------------------------------------------------------

# apply: kubectl apply stdin (rendered manifests: labelled as ours) into the namespace. Callers
# render into a variable first: bootstrap.sh stops on a render that fails, before applying.
apply() { kns apply -f - | sed 's/^/bootstrap:   /'; }

# apply_one: the same for a single object made by kubectl create --dry-run, labelled here.
apply_one() { kube label --local -f - --overwrite -o yaml "$LABEL" | apply; }

ensure_namespace() {
	if kube get namespace "$NAMESPACE" >/dev/null 2>&1; then
		log "namespace $NAMESPACE exists"
		return 0
	fi
	kube create namespace "$NAMESPACE" --dry-run=client -o yaml |
		kube label --local -f - -o yaml "$LABEL" \
			pod-security.kubernetes.io/enforce=restricted |
		kube apply -f - >/dev/null
	state_set namespace_created yes
	log "namespace $NAMESPACE created"
}

# --- rendering: bootstrap.sh's copy of a manifest --------------------------------------------
# With kubectl's own JSON Patch (kubectl patch --local: no server), by field, not by line: a
# re-indented or reordered manifest renders the same. Each change first tests that the field
# holds what the manifest ships; a manifest edited so that a change no longer applies stops
# bootstrap.sh with one line, instead of being applied unchanged.

MANAGED_BY_PATH=/metadata/labels/app.kubernetes.io~1managed-by

# json_string TEXT: TEXT as a JSON string (names, versions and references: never a quote).
json_string() {
	case $1 in *'"'* | *'\'*) die "not usable in a manifest: $1" ;; esac
	printf '"%s"' "$1"
}

# swap PATH OLD NEW: the JSON Patch operations (OLD and NEW are JSON) that test that PATH holds
# OLD and then replace it with NEW, each followed by a comma.
swap() {
	printf '{"op":"test","path":"%s","value":%s},' "$1" "$2"
	printf '{"op":"replace","path":"%s","value":%s},' "$1" "$3"
}

service_type() {
	case $EXPOSE in
		loadbalancer) echo LoadBalancer ;;
		nodeport) echo NodePort ;;
		*) echo ClusterIP ;;
	esac
}

# HTTPS only (--tls-cert or --tls-secret): the Secret's tls.crt and tls.key mounted where
# PLACEDOCK_TLS_CERT_FILE and _KEY_FILE name them; the container's port renamed https, the
# probes asking it over HTTPS (the kubelet checks no certificate).
https_pods() {
	local container=/spec/template/spec/containers/0
	printf '%s' "$(swap $container/ports/0/name '"http"' '"https"')"
	local probe
	for probe in readinessProbe startupProbe; do
		printf '%s' "$(swap "$container/$probe/httpGet/port" '"http"' '"https"')"
		printf '{"op":"add","path":"%s","value":"HTTPS"},' "$container/$probe/httpGet/scheme"
	done
	printf '{"op":"add","path":"%s/env/-","value":{"name":"PLACEDOCK_TLS_CERT_FILE","value":"%s/tls.crt"}},' \
		"$container" "$TLS_MOUNT"
	printf '{"op":"add","path":"%s/env/-","value":{"name":"PLACEDOCK_TLS_KEY_FILE","value":"%s/tls.key"}},' \
		"$container" "$TLS_MOUNT"
	printf '{"op":"add","path":"%s/volumeMounts/-","value":{"name":"tls","mountPath":"%s","readOnly":true}},' \
		"$container" "$TLS_MOUNT"
	printf '{"op":"add","path":"/spec/template/spec/volumes/-","value":{"name":"tls","secret":{"secretName":%s,"defaultMode":288}}},' \
		"$(json_string "$TLS_SECRET")"
}

# object_patch KIND NAME: the JSON Patch that makes bootstrap.sh's copy of one object: its
# managed-by label (and its pods'), the HPA and PDB API versions the cluster serves, placedock's
# replicas and image, its Service's type and node port.
object_patch() {
	local ours operations
	ours=$(json_string "$MANAGED_BY")
	operations=$(swap "$MANAGED_BY_PATH" '"kubectl"' "$ours")
	case $1 in
		Deployment) operations+=$(swap "/spec/template$MANAGED_BY_PATH" '"kubectl"' "$ours") ;;
		HorizontalPodAutoscaler) operations+=$(swap /apiVersion '"autoscaling/v2"' "$(json_string "$HPA_API")") ;;
		PodDisruptionBudget) operations+=$(swap /apiVersion '"policy/v1"' "$(json_string "$PDB_API")") ;;
	esac
	case $1/$2 in
		Deployment/placedock)
			operations+=$(swap /spec/replicas 1 "$REPLICAS")
			operations+=$(swap /spec/template/spec/containers/0/image '"placedock:latest"' \
				"$(json_string "$DEPLOY_IMAGE")")
			[ -z "$TLS_SECRET" ] || operations+=$(https_pods)
			;;
		Service/placedock)
			operations+=$(swap /spec/type '"ClusterIP"' "$(json_string "$(service_type)")")
			if [ -n "$TLS_SECRET" ]; then
				operations+=$(swap /spec/ports/0/name '"http"' '"https"')
				operations+=$(swap /spec/ports/0/port 80 443)
				operations+=$(swap /spec/ports/0/targetPort '"http"' '"https"')
			fi
			if [ "$EXPOSE" = nodeport ] && [ -n "$NODE_PORT" ]; then
				operations+='{"op":"add","path":"/spec/ports/0/nodePort","value":'$NODE_PORT'},'
			fi
			;;
	esac
	printf '[%s]\n' "${operations%,}"
}

# split_objects FILE DIR: each object of a manifest (YAML documents, between lines "---") into
# a file of its own in DIR, in order: kubectl patch would apply one patch to every object of FILE.
split_objects() {
	awk -v dir="$2" '/^---$/ { n++; next } { print > sprintf("%s/%03d.yaml", dir, n) }' "$1"
}

# render FILE: bootstrap.sh's copy of a manifest (see above), on stdout. In a subshell, so that
# its temporary folder goes however it ends.
render() (
	local objects object kind name error
	objects=$(mktemp -d)
	trap 'rm -rf "$objects"' EXIT
	split_objects "$HERE/$1" "$objects"
	for object in "$objects"/*.yaml; do
		read -r kind name < <(kube patch --local -f "$object" --type=merge -p '{}' \
			-o 'jsonpath={.kind} {.metadata.name}{"\n"}' 2>/dev/null) ||
			die "$1: object $(basename "$object" .yaml) has no kind and name"
		if ! kube patch --local -f "$object" --type=json -p "$(object_patch "$kind" "$name")" \
			-o yaml >"$object.rendered" 2>"$object.error"; then
			error=$(grep -m 1 '^error: ' "$object.error" || tail -n 1 "$object.error")
			die "$1: $kind/$name does not hold what bootstrap.sh changes: ${error#error: }"
		fi
		printf -- '---\n' >>"$objects/all"
		cat "$object.rendered" >>"$objects/all"
	done
	# Printed only once every object rendered: a render that fails prints nothing.
	cat "$objects/all"
)

random_password() { od -An -N16 -tx1 /dev/urandom | tr -d ' \n'; }

secret_value() {
	kns get secret "$1" -o "jsonpath={.data.$2}" 2>/dev/null | base64 -d 2>/dev/null || true
}

# make_secret NAME KEY VALUE
make_secret() {
	# From stdin: the value never shows on a command line.
	printf '%s' "$3" |
		kns create secret generic "$1" --from-file="$2=/dev/stdin" --dry-run=client -o yaml |
		apply_one >/dev/null
}

# rollout_failed DEPLOYMENT: say what its pods are doing, then stop.
rollout_failed() {
	kns get pods -l "app.kubernetes.io/instance=$1" >&2 || true
	kns logs "deployment/$1" --tail=20 >&2 || true
	die "deployment $1 did not become ready within $TIMEOUT"
}

deploy_postgresql() {
	local password ip manifest
	password=$(secret_value placedock-postgresql password)
	[ -n "$password" ] || password=$(random_password)
	make_secret placedock-postgresql password "$password"
	log "applying postgresql.yaml (an in-cluster PostgreSQL, data in an emptyDir)"
	manifest=$(render postgresql.yaml)
	printf '%s\n' "$manifest" | apply
	log "waiting for PostgreSQL"
	kns rollout status deployment/placedock-postgresql --timeout="$TIMEOUT" >/dev/null ||
		rollout_failed placedock-postgresql
	ip=$(kns get service placedock-postgresql -o 'jsonpath={.spec.clusterIP}')
	# The Service's ClusterIP, not its DNS name: it works on clusters without DNS as well.
	DATABASE_URL=postgresql://placement:$password@$ip:5432/placement
	log "PostgreSQL ready at $ip:5432"
}

# The Secret of --tls-cert and --tls-key (a kubernetes.io/tls one, as cert-manager makes).
deploy_tls_secret() {
	if [ -z "$TLS_CERT" ]; then
		[ -z "$TLS_SECRET" ] || kns get secret "$TLS_SECRET" >/dev/null ||
			die "--tls-secret: no Secret $TLS_SECRET in namespace $NAMESPACE"
		return 0
	fi
	kns create secret tls "$OWN_TLS_SECRET" --cert="$TLS_CERT" --key="$TLS_KEY" \
		--dry-run=client -o yaml | apply_one >/dev/null
	log "Secret $OWN_TLS_SECRET holds the certificate and key given"
}

deploy_network_policy() {
	if [ "$NETWORK_POLICY" = yes ]; then
		log "applying networkpolicy.yaml (enforced only where the network plugin implements it)"
		render networkpolicy.yaml | apply
	elif kns get networkpolicy placedock -l "$LABEL" -o name 2>/dev/null | grep -q .; then
		log "removing the NetworkPolicy of an earlier run (no --network-policy)"
		kns delete networkpolicy placedock >/dev/null
	fi
}

deploy_placedock() {
	local old restart=no manifest
	old=$(secret_value placedock-database connection)
	make_secret placedock-database connection "$DATABASE_URL"
	if [ -n "$old" ] && [ "$old" != "$DATABASE_URL" ] &&
		kns get deployment placedock >/dev/null 2>&1; then
		restart=yes
	fi
	log "applying deployment.yaml (image $DEPLOY_IMAGE, $REPLICAS replicas, Service $EXPOSE)"
	manifest=$(render deployment.yaml)
	printf '%s\n' "$manifest" | apply
	if [ "$restart" = yes ]; then
		log "the database URL changed: restarting placedock"
		kns rollout restart deployment/placedock >/dev/null
	fi
	deploy_network_policy
	log "applying autoscaler.yaml ($HPA_API)"
	manifest=$(render autoscaler.yaml)
	printf '%s\n' "$manifest" | apply
	log "waiting for the rollout of placedock"
	kns rollout status deployment/placedock --timeout="$TIMEOUT" >/dev/null || rollout_failed placedock
	kns wait --for=condition=Available deployment/placedock --timeout="$TIMEOUT" >/dev/null
	log "placedock ready: $(kns get deployment placedock -o 'jsonpath={.status.readyReplicas}') replicas"
}

check_metrics() {
	local available
	available=$(kube get apiservice v1beta1.metrics.k8s.io \
		-o 'jsonpath={.status.conditions[?(@.type=="Available")].status}' 2>/dev/null || true)
	if [ "$available" = True ]; then
		log "metrics API available: the autoscaler can measure CPU"
	elif [ "$LOAD" = minikube ]; then
		log "enabling minikube's metrics-server addon"
		minikube addons enable metrics-server >/dev/null
	else
		log "WARNING: no metrics.k8s.io API (metrics-server): the autoscaler will not scale"
	fi
}

# --- exposing it ------------------------------------------------------------------------------

# poll SECONDS command...: until the command prints something non-empty; prints it.
poll() {
	local deadline=$((SECONDS + $1)) out
	shift
	while [ "$SECONDS" -lt "$deadline" ]; do
		out=$("$@" 2>/dev/null || true)
		if [ -n "$out" ]; then
			printf '%s\n' "$out"
			return 0
		fi
		sleep 1
	done
	return 1
}

lb_address() {
	kns get service placedock \
		-o 'jsonpath={.status.loadBalancer.ingress[0].ip}{.status.loadBalancer.ingress[0].hostname}'
}

port_forward() {
	stop_port_forward
	local logfile
	logfile=$(port_forward_log)
	nohup "$KUBECTL" --namespace "$NAMESPACE" port-forward --address 127.0.0.1 \
		service/placedock "$LOCAL_PORT:$(service_port)" >"$logfile" 2>&1 &
	state_set port_forward_pid "$!"
	URL=$(scheme)://127.0.0.1:$LOCAL_PORT
	poll 30 check_curl "$URL/" >/dev/null || die "kubectl port-forward did not answer: see $logfile"
}

expose() {
	local address port
	case $EXPOSE in
		loadbalancer)
			log "waiting for the LoadBalancer's address"
			if address=$(poll 90 lb_address); then
				URL=$(scheme)://$address
			else
				log "no LoadBalancer address after 90 s (none on this cluster?): kubectl port-forward"
				port_forward
			fi
			;;
		nodeport)
			port=$(kns get service placedock -o 'jsonpath={.spec.ports[0].nodePort}')
			address=$NODE_ADDRESS
			if [ -z "$address" ] && [ "$LOAD" = minikube ]; then
				address=$(minikube ip)
			fi
			if [ -z "$address" ]; then
				address=$(kube get nodes \
					-o 'jsonpath={.items[0].status.addresses[?(@.type=="InternalIP")].address}')
			fi
			URL=$(scheme)://$address:$port
			;;
		port-forward) port_forward ;;
	esac
	state_set url "$URL"
	log "placedock is at $URL"
}

scheme() { if [ -n "$TLS_SECRET" ]; then echo https; else echo http; fi; }
service_port() { if [ -n "$TLS_SECRET" ]; then echo 443; else echo 80; fi; }

# curl as bootstrap.sh's checks use it: over HTTPS with --tls-ca's CA, else unchecked.
check_curl() {
	local trust=()
	if [ -n "$TLS_CA" ]; then
		trust=(--cacert "$TLS_CA")
	elif [ -n "$TLS_SECRET" ]; then
		trust=(--insecure)
	fi
	curl -fsS "${trust[@]}" "$@"
}

check_service() {
	poll 60 check_curl "$URL/" >/dev/null || die "$URL does not answer"
	if [ -n "$TLS_SECRET" ] && [ -z "$TLS_CA" ]; then
		log "WARNING: the service's certificate is not checked (no --tls-ca)"
	fi
	log "curl $URL/"
	check_curl "$URL/"
	echo
	log "curl -H 'x-auth-token: admin' $URL/resource_providers"
	check_curl -H 'x-auth-token: admin' "$URL/resource_providers"
	echo
	[ "$GABBI" = yes ] || return 0
	if ! command -v gabbi-run >/dev/null 2>&1; then
		log "gabbi-run not on PATH (pip install gabbi): gabbi tests skipped"
		return 0
	fi
	# gabbi-run takes no CA file: over HTTPS it checks the API, curl above the certificate.
	local insecure=()
	[ -z "$TLS_SECRET" ] || insecure=(--insecure)
	log "gabbi-run ${insecure[*]} $URL -- gabbi.yaml"
	gabbi-run "${insecure[@]}" "$URL" -- "$HERE/gabbi.yaml"
	log "gabbi tests passed"
}

main() {
	local flags
	# DOCKER_BUILD_FLAGS first: --build-flag adds to them.
	read -r -a flags <<<"${DOCKER_BUILD_FLAGS:-}"
	BUILD_FLAGS=("${flags[@]}")
	parse_options "$@"
	check_options
	init_state
	build_image
	ensure_namespace
	if [ -n "$DATABASE_URL" ]; then
		log "database: the one given by --database-url"
	else
		deploy_postgresql
	fi
	check_metrics
	deploy_tls_secret
	deploy_placedock
	expose
	check_service
	log "done: watch it with  kubectl -n $NAMESPACE get hpa,pods -w ; remove it with ./cleanup.sh"
}

# Sourced (the tests do, to render), it only defines its functions.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	main "$@"
fi
