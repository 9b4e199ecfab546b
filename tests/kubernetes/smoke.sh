#!/usr/bin/env bash
# Smoke test of a cluster made by cluster.sh: a pod from a locally made busybox image
# runs, `kubectl top pods` sees it, a NodePort answers on 127.0.0.1, and an
# autoscaling/v2beta2 HPA scales a CPU-burning deployment up from 1 replica.
#
#   smoke.sh STATE_DIR        (after `cluster.sh start STATE_DIR`)
set -euo pipefail

[ $# -eq 1 ] || {
	echo "usage: $0 STATE_DIR" >&2
	exit 2
}
STATE=$(cd "$1" && pwd)
K8S_VERSION=1.20.2
BIN_DIR=${TESTS_CACHE_DIR:-$HOME/.cache/placedock}/kubernetes-$K8S_VERSION/bin
IMAGE=placedock/busybox:test
NS=placedock-smoke
NODEPORT=${TESTS_SMOKE_NODEPORT:-30080}

kctl() { "$BIN_DIR/kubectl" --kubeconfig "$STATE/kubeconfig" "$@"; }
log() { printf '[smoke] %s\n' "$*"; }

# fd 3: the real stderr, for wait_for's time-out line (tests/kubernetes/wait.sh).
exec 3>&2
# shellcheck source=tests/kubernetes/wait.sh
. "$(dirname "${BASH_SOURCE[0]}")/wait.sh"

# wait_and_say SECONDS DESCRIPTION command...: wait_for, then say when it came true.
wait_and_say() {
	wait_for "$@"
	log "ok: $2 (${SECONDS}s)"
}

# A FROM-scratch image holding Debian's static busybox: no registry needed.
make_image() {
	docker image inspect "$IMAGE" >/dev/null 2>&1 && return 0
	local tmp applet
	tmp=$(mktemp -d)
	(cd "$tmp" && apt-get download -qq -o APT::Sandbox::User=root busybox-static >/dev/null)
	dpkg-deb -x "$tmp"/busybox-static_*.deb "$tmp/deb"
	mkdir -p "$tmp/rootfs/bin" "$tmp/rootfs/tmp"
	cp "$tmp/deb/bin/busybox" "$tmp/rootfs/bin/busybox"
	for applet in $("$tmp/rootfs/bin/busybox" --list); do
		[ "$applet" = busybox ] || ln -sf busybox "$tmp/rootfs/bin/$applet"
	done
	tar -C "$tmp/rootfs" -c . |
		docker import --change 'ENV PATH=/bin' --change 'CMD ["/bin/sh"]' - "$IMAGE" >/dev/null
	rm -rf "$tmp"
}

# deployment NAME CONTAINER COMMAND: one replica of the busybox image running COMMAND; the
# caller writes the container's further lines (ports, probes, resources) after it.
deployment() {
	cat <<EOF
apiVersion: apps/v1
kind: Deployment
metadata: {name: $1, namespace: $NS}
spec:
  replicas: 1
  selector: {matchLabels: {app: $1}}
  template:
    metadata: {labels: {app: $1}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: $2
        image: $IMAGE
        imagePullPolicy: Never
        command: [sh, -c, '$3']
EOF
}

manifests() {
	# shellcheck disable=SC2016 # $(hostname) is for the container's shell
	deployment web httpd 'mkdir -p /www && echo "hello from $(hostname)" > /www/index.html && exec httpd -f -v -p 8080 -h /www'
	cat <<EOF
        ports: [{containerPort: 8080}]
        readinessProbe: {httpGet: {path: /, port: 8080}, periodSeconds: 2}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: $NS}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{port: 8080, targetPort: 8080, nodePort: $NODEPORT}]
---
EOF
	deployment burn burn 'while :; do :; done'
	cat <<EOF
        resources:
          requests: {cpu: 100m, memory: 16Mi}
          limits: {cpu: 200m, memory: 32Mi}
---
apiVersion: autoscaling/v2beta2
kind: HorizontalPodAutoscaler
metadata: {name: burn, namespace: $NS}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: burn}
  minReplicas: 1
  maxReplicas: 3
  metrics:
  - type: Resource
    resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}
EOF
}

sa_ready() { [ -n "$(kctl -n "$NS" get sa default -o 'jsonpath={.secrets[0].name}')" ]; }
web_ready() { kctl -n "$NS" rollout status deploy/web --timeout=5s; }
top_sees_web() { kctl -n "$NS" top pods -l app=web --no-headers | grep -q '^web-'; }
nodeport_answers() { curl -fsS --max-time 2 "http://127.0.0.1:$NODEPORT/" | grep -q '^hello from web-'; }
hpa_scaled() { [ "$(kctl -n "$NS" get deploy burn -o 'jsonpath={.status.readyReplicas}')" -gt 1 ]; }
top_sees_all_burn() {
	[ "$(kctl -n "$NS" top pods -l app=burn --no-headers | wc -l)" -eq \
		"$(kctl -n "$NS" get deploy burn -o 'jsonpath={.status.readyReplicas}')" ]
}
pods_gone() { [ -z "$(kctl -n "$NS" get pods -o name)" ]; }
ns_gone() { ! kctl get ns "$NS"; }

main() {
	export PATH="$BIN_DIR:$PATH"
	make_image
	log "image $IMAGE ready"
	kctl create namespace "$NS" >/dev/null
	wait_and_say 60 "service account in $NS" sa_ready
	manifests | kctl apply -f - >/dev/null
	wait_and_say 120 "web pod running and ready" web_ready
	kctl -n "$NS" exec deploy/web -- cat /www/index.html
	wait_and_say 60 "kubectl top pods shows web" top_sees_web
	kctl -n "$NS" top pods
	wait_and_say 60 "NodePort 127.0.0.1:$NODEPORT answers" nodeport_answers
	curl -fsS "http://127.0.0.1:$NODEPORT/"
	wait_and_say 240 "HPA scaled burn up: more than 1 ready replica" hpa_scaled
	kctl -n "$NS" get hpa burn
	kctl -n "$NS" describe hpa burn | sed -n '/^Events:/,$p'
	wait_and_say 60 "kubectl top pods shows every burn replica" top_sees_all_burn
	kctl -n "$NS" top pods
	# Pods first: the namespace controller backs off for ~45 s while pods terminate.
	kctl -n "$NS" delete hpa,deployment,service --all >/dev/null
	wait_and_say 120 "pods of $NS gone" pods_gone
	kctl delete namespace "$NS" --wait=false >/dev/null
	wait_and_say 120 "namespace $NS deleted" ns_gone
	log "PASSED in ${SECONDS}s"
}

main
