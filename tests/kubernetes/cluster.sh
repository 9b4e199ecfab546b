#!/usr/bin/env bash
# A real single-node Kubernetes 1.20.2 cluster for the test suite, built from
# Debian bookworm's `kubernetes` source package (no registry, no prebuilt binary).
#
#   cluster.sh install           apt packages, build + cache the binaries (idempotent)
#   cluster.sh start STATE_DIR   etcd, control plane, kubelet (dockershim), kube-proxy,
#                                test-only metrics API; writes STATE_DIR/kubeconfig
#   cluster.sh stop STATE_DIR    stop all of it by PID, clean containers and iptables
#
# Everything runs as root on 127.0.0.1. See README.md beside this file.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
K8S_VERSION=1.20.2
CACHE_DIR=${TESTS_CACHE_DIR:-$HOME/.cache/placedock}/kubernetes-$K8S_VERSION
BIN_DIR=$CACHE_DIR/bin
BINARIES=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl)
PAUSE_IMAGE=k8s.gcr.io/pause:3.2

ETCD_PORT=${TESTS_ETCD_PORT:-2379}
APISERVER_PORT=${TESTS_APISERVER_PORT:-6443}
METRICS_PORT=${TESTS_METRICS_PORT:-4443}
NODEPORT_RANGE=${TESTS_NODEPORT_RANGE:-30000-30100}
SERVICE_CIDR=10.96.0.0/16
# Components are stopped in this order (apiserver before etcd).
COMPONENTS=(metrics-api kube-proxy kubelet kube-scheduler kube-controller-manager kube-apiserver etcd)

# fd 3: the real stderr, also from inside wait_for's silenced predicates.
exec 3>&2
log() { printf '[cluster] %s\n' "$*"; }
die() {
	printf '[cluster] ERROR: %s\n' "$*" >&3
	exit 1
}

# step "description" command...: run a step, print one line with its duration.
# A failing step ends the script (set -e); the EXIT trap names it.
STEP=""
step() {
	local what=$1 t0
	shift
	t0=$(date +%s.%N)
	STEP=$what
	"$@"
	STEP=""
	printf '[cluster] %-52s %6.1fs\n' "$what" \
		"$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')"
}
on_exit() {
	local rc=$?
	[ "$rc" -eq 0 ] || [ -z "$STEP" ] || printf '[cluster] FAILED: %s (rc=%s)\n' "$STEP" "$rc" >&3
}
trap on_exit EXIT

# shellcheck source=tests/kubernetes/wait.sh
. "$HERE/wait.sh"

require_root() { [ "$(id -u)" -eq 0 ] || die "must run as root"; }

# ---------------------------------------------------------------- install ---

# The Debian mirror URI of the machine's own apt sources (the one serving bookworm).
debian_mirror() {
	local f uri=""
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		uri=$(awk 'BEGIN { RS = ""; FS = "\n" }
            {
                types = ""; uris = ""; suites = ""; enabled = "yes"
                for (i = 1; i <= NF; i++) {
                    line = $i
                    if (line ~ /^[ \t]*#/) continue
                    key = tolower(line); sub(/:.*/, "", key)
                    val = line; sub(/^[^:]*:[ \t]*/, "", val)
                    if (key == "types") types = val
                    else if (key == "uris") uris = val
                    else if (key == "suites") suites = val
                    else if (key == "enabled") enabled = tolower(val)
                }
                if (enabled != "no" && (" " types " ") ~ / deb / && (" " suites " ") ~ / bookworm /) {
                    split(uris, u, /[ \t]+/); print u[1]; exit
                }
            }' "$f")
		[ -n "$uri" ] && break
	done
	if [ -z "$uri" ]; then
		for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
			[ -f "$f" ] || continue
			uri=$(awk '$1 == "deb" {
                    i = 2
                    if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
                    if ($(i + 1) == "bookworm") { print $i; exit }
                }' "$f")
			[ -n "$uri" ] && break
		done
	fi
	[ -n "$uri" ] || return 1
	printf '%s\n' "$uri"
}

install_packages() {
	local pkgs=(golang-go etcd-server ipset conntrack iptables dpkg-dev build-essential
		openssl procps curl ca-certificates)
	command -v dockerd >/dev/null 2>&1 || pkgs+=(docker.io)
	apt-get update -qq >/dev/null
	# Debian's etcd-server would start its own etcd from its init script: forbid that.
	local policy=/usr/sbin/policy-rc.d created_policy=""
	if [ ! -e "$policy" ]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy"
		chmod 755 "$policy"
		created_policy=1
	fi
	local rc=0 out
	out=$(mktemp)
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pkgs[@]}" \
		>"$out" 2>&1 || rc=$?
	[ -z "$created_policy" ] || rm -f "$policy"
	[ "$rc" -eq 0 ] || {
		tail -n 30 "$out" >&2
		rm -f "$out"
		die "apt-get install failed"
	}
	rm -f "$out"
}

download_source() {
	local src=$1 apt_dir=$CACHE_DIR/apt mirror keyring opts=""
	mirror=$(debian_mirror) || die "no Debian bookworm mirror found in /etc/apt/sources.list*"
	keyring=/usr/share/keyrings/debian-archive-keyring.gpg
	[ -f "$keyring" ] && opts="[signed-by=$keyring] "
	mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/parts" "$src"
	printf 'deb-src %s%s bookworm main\n' "$opts" "$mirror" >"$apt_dir/sources.list"
	local apt_opts=(-o "Dir::Etc::SourceList=$apt_dir/sources.list"
		-o "Dir::Etc::SourceParts=$apt_dir/parts"
		-o "Dir::State::Lists=$apt_dir/lists"
		-o "Dir::Cache=$apt_dir/cache"
		-o "APT::Sandbox::User=root")
	apt-get "${apt_opts[@]}" update -qq
	(cd "$src" && apt-get "${apt_opts[@]}" source -qq --download-only "kubernetes/bookworm")
	rm -rf "$apt_dir"
}

unpack_and_patch() {
	local src=$1 dsc
	dsc=$(find "$src" -maxdepth 1 -name 'kubernetes_*.dsc' | head -n1)
	[ -n "$dsc" ] || die "kubernetes .dsc not downloaded"
	(cd "$src" && dpkg-source --no-check -x "$(basename "$dsc")" tree >/dev/null)
	# This kind of VM refuses a negative oom_score_adj (no CAP_SYS_RESOURCE): every pod
	# sandbox would fail with "can't get final child's PID from pipe: EOF".
	local f
	f=$src/tree/pkg/kubelet/dockershim/docker_sandbox.go
	sed -i -E 's/^(\s*defaultSandboxOOMAdj\s+int\s*=\s*)-[0-9]+/\10/' "$f"
	grep -Eq '^\s*defaultSandboxOOMAdj\s+int\s*=\s*0$' "$f" || die "oom patch failed: $f"
	f=$src/tree/pkg/kubelet/qos/policy.go
	sed -i -E 's/^(\s*guaranteedOOMScoreAdj\s+int\s*=\s*)-[0-9]+/\10/' "$f"
	grep -Eq '^\s*guaranteedOOMScoreAdj\s+int\s*=\s*0$' "$f" || die "oom patch failed: $f"
}

build_binaries() {
	local src=$1 tree=$1/tree what="" b
	for b in "${BINARIES[@]}"; do what+="cmd/$b "; done
	cat >"$src/version.env" <<EOF
KUBE_GIT_COMMIT='debian-bookworm'
KUBE_GIT_TREE_STATE='archive'
KUBE_GIT_VERSION='v$K8S_VERSION'
KUBE_GIT_MAJOR='1'
KUBE_GIT_MINOR='20'
EOF
	(
		cd "$tree"
		unset GOFLAGS GOPATH GOBIN
		# The build keeps its Go cache in _output/ of the tree (removed after the build).
		export GOPROXY=off KUBE_GIT_VERSION_FILE=$src/version.env
		make WHAT="${what% }" >"$src/build.log" 2>&1 || {
			tail -n 40 "$src/build.log" >&2
			exit 1
		}
	)
	local out=$tree/_output/local/bin/linux/amd64
	[ -d "$out" ] || out=$tree/_output/bin
	mkdir -p "$BIN_DIR.new"
	for b in "${BINARIES[@]}"; do
		install -m 755 "$out/$b" "$BIN_DIR.new/$b"
	done
}

build_pause() {
	local src=$1 c
	c=$src/tree/build/pause/linux/pause.c
	[ -f "$c" ] || c=$src/tree/build/pause/pause.c
	gcc -Os -Wall -Werror -static -DVERSION=v3.2-placedock -o "$BIN_DIR.new/pause" "$c"
	strip "$BIN_DIR.new/pause"
}

cmd_install() {
	require_root
	step "apt-get install (golang, etcd, docker, ...)" install_packages
	if [ -f "$BIN_DIR/.complete" ]; then
		log "binaries cached in $BIN_DIR: build skipped"
		return 0
	fi
	local src=$CACHE_DIR/src
	rm -rf "$src" "$BIN_DIR.new"
	mkdir -p "$src"
	step "apt-get source kubernetes/bookworm" download_source "$src"
	step "unpack + oom_score_adj patches" unpack_and_patch "$src"
	step "go build (${BINARIES[*]})" build_binaries "$src"
	step "pause binary (static)" build_pause "$src"
	touch "$BIN_DIR.new/.complete"
	rm -rf "$BIN_DIR"
	mv "$BIN_DIR.new" "$BIN_DIR"
	# The Go build cache and the source tree are >3 GB: keep only the binaries.
	chmod -R u+w "$src" 2>/dev/null || true
	rm -rf "$src"
	log "binaries in $BIN_DIR ($(du -sh "$BIN_DIR" | cut -f1))"
}

# ------------------------------------------------------------------ start ---

# running PID WORD: the process lives (a zombie does not count: this VM's init reaps
# slowly) and its command line holds WORD (guards against a reused PID).
running() {
	local pid=$1 word=$2 stat cmd i
	stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[ "${stat%% *}" != Z ] || return 1
	# A process in the middle of an exec shows an empty command line for a moment (python3 may
	# be a chain of them: pyenv's shims are scripts): read it again rather than call it gone.
	for ((i = 0; i < 20; i++)); do
		cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
		[ -z "$cmd" ] || break
		sleep 0.05
	done
	[[ $cmd == *"$word"* ]]
}
# The word each component's command line must hold.
cmd_word() {
	case $1 in
		metrics-api) echo metrics_api.py ;;
		dockerd*) echo dockerd ;;
		*) echo "$1" ;;
	esac
}
pid_alive() { [ -f "$STATE/$1.pid" ] && running "$(cat "$STATE/$1.pid")" "$(cmd_word "$1")"; }

# spawn NAME command...: start a component in the background, log + PID in STATE.
spawn() {
	local name=$1
	shift
	if pid_alive "$name"; then
		die "$name already running (PID $(cat "$STATE/$name.pid"))"
	fi
	# 3>&-: a daemon must not hold the caller's stderr copy, or a caller reading it never ends.
	setsid "$@" >"$STATE/$name.log" 2>&1 </dev/null 3>&- &
	local pid=$! word i
	echo "$pid" >"$STATE/$name.pid"
	# Until the forked shell has exec'd, its command line is this script's.
	word=$(cmd_word "$name")
	for ((i = 0; i < 100; i++)); do
		running "$pid" "$word" && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
}

alive_or_die() {
	pid_alive "$1" && return 0
	local pid status=unknown state
	pid=$(cat "$STATE/$1.pid")
	state=$(cat "/proc/$pid/stat" 2>/dev/null) && state=${state##*) } && state=${state%% *}
	# A child of this shell that has ended: its exit status says how (a signal shows as 128+N).
	if [ -z "$state" ] || [ "$state" = Z ]; then
		status=0
		wait "$pid" 2>/dev/null || status=$?
	fi
	tail -n 20 "$STATE/$1.log" >&3 || true
	die "$1 exited (status $status); see $STATE/$1.log"
}

kctl() { "$BIN_DIR/kubectl" --kubeconfig "$STATE/kubeconfig" "$@"; }

docker_running() { docker version >/dev/null 2>&1; }

ensure_docker() {
	if docker_running; then
		return 0
	fi
	pgrep -x dockerd >/dev/null && die "a dockerd runs but does not answer"
	spawn dockerd dockerd
	mv "$STATE/dockerd.pid" "$STATE/dockerd.started-by-us.pid"
	wait_for 60 dockerd docker_running
}

ensure_pause_image() {
	docker image inspect "$PAUSE_IMAGE" >/dev/null 2>&1 && return 0
	tar -C "$BIN_DIR" -c pause | docker import --change 'ENTRYPOINT ["/pause"]' - "$PAUSE_IMAGE" >/dev/null
}

make_certs() {
	mkdir -p "$STATE/pki"
	[ -f "$STATE/pki/sa.key" ] || openssl genrsa -out "$STATE/pki/sa.key" 2048 2>/dev/null
	openssl rsa -in "$STATE/pki/sa.key" -pubout -out "$STATE/pki/sa.pub" 2>/dev/null
	[ -f "$STATE/token" ] || od -An -N16 -tx1 /dev/urandom | tr -d ' \n' >"$STATE/token"
	printf '%s,admin,admin,system:masters\n' "$(cat "$STATE/token")" >"$STATE/pki/tokens.csv"
	cat >"$STATE/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: placedock
  cluster:
    server: https://127.0.0.1:$APISERVER_PORT
    insecure-skip-tls-verify: true
users:
- name: admin
  user:
    token: $(cat "$STATE/token")
contexts:
- name: placedock
  context: {cluster: placedock, user: admin, namespace: default}
current-context: placedock
EOF
	chmod 600 "$STATE/kubeconfig" "$STATE/token" "$STATE/pki/tokens.csv"
}

start_etcd() {
	spawn etcd etcd --name placedock --data-dir "$STATE/etcd" \
		--listen-client-urls "http://127.0.0.1:$ETCD_PORT" \
		--advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
		--listen-peer-urls "http://127.0.0.1:$((ETCD_PORT + 1))" \
		--initial-advertise-peer-urls "http://127.0.0.1:$((ETCD_PORT + 1))" \
		--initial-cluster "placedock=http://127.0.0.1:$((ETCD_PORT + 1))" \
		--listen-metrics-urls "http://127.0.0.1:$((ETCD_PORT + 2))"
	wait_for 60 etcd etcd_healthy
}
etcd_healthy() {
	alive_or_die etcd
	[[ $(curl -fs "http://127.0.0.1:$((ETCD_PORT + 2))/health") == *'"health":"true"'* ]]
}

start_apiserver() {
	spawn kube-apiserver "$BIN_DIR/kube-apiserver" \
		--etcd-servers "http://127.0.0.1:$ETCD_PORT" \
		--bind-address 127.0.0.1 --advertise-address 127.0.0.1 \
		--secure-port "$APISERVER_PORT" --insecure-port 0 \
		--cert-dir "$STATE/pki/apiserver" \
		--token-auth-file "$STATE/pki/tokens.csv" \
		--authorization-mode AlwaysAllow \
		--service-account-key-file "$STATE/pki/sa.pub" \
		--service-account-signing-key-file "$STATE/pki/sa.key" \
		--service-account-issuer https://kubernetes.default.svc \
		--api-audiences https://kubernetes.default.svc \
		--service-cluster-ip-range "$SERVICE_CIDR" \
		--service-node-port-range "$NODEPORT_RANGE" \
		--kubelet-preferred-address-types Hostname \
		--allow-privileged=true \
		--profiling=false
	wait_for 120 kube-apiserver apiserver_ready
}
apiserver_ready() {
	alive_or_die kube-apiserver
	[ "$(curl -fsk -H "Authorization: Bearer $(cat "$STATE/token")" \
		"https://127.0.0.1:$APISERVER_PORT/readyz")" = ok ]
}

start_controllers() {
	spawn kube-controller-manager "$BIN_DIR/kube-controller-manager" \
		--kubeconfig "$STATE/kubeconfig" \
		--leader-elect=false --port 0 --bind-address 127.0.0.1 \
		--service-account-private-key-file "$STATE/pki/sa.key" \
		--use-service-account-credentials=false \
		--controllers '*,-csrsigning,-csrapproving,-csrcleaner,-bootstrapsigner,-tokencleaner' \
		--horizontal-pod-autoscaler-sync-period 10s \
		--horizontal-pod-autoscaler-downscale-stabilization 1m \
		--profiling=false
	spawn kube-scheduler "$BIN_DIR/kube-scheduler" \
		--kubeconfig "$STATE/kubeconfig" \
		--leader-elect=false --port 0 --bind-address 127.0.0.1 \
		--authentication-kubeconfig "$STATE/kubeconfig" \
		--authorization-kubeconfig "$STATE/kubeconfig" \
		--profiling=false
	wait_for 60 "kube-controller-manager healthz" component_healthz kube-controller-manager 10257
	wait_for 60 "kube-scheduler healthz" component_healthz kube-scheduler 10259
}
component_healthz() {
	alive_or_die "$1"
	[ "$(curl -fsk "https://127.0.0.1:$2/healthz")" = ok ]
}

start_kubelet() {
	mkdir -p "$STATE/kubelet"
	spawn kubelet "$BIN_DIR/kubelet" \
		--kubeconfig "$STATE/kubeconfig" \
		--root-dir "$STATE/kubelet" --cert-dir "$STATE/kubelet/pki" \
		--container-runtime docker --pod-infra-container-image "$PAUSE_IMAGE" \
		--cgroup-driver cgroupfs --fail-swap-on=false \
		--address 127.0.0.1 --healthz-bind-address 127.0.0.1 --read-only-port 0 \
		--anonymous-auth=true --authorization-mode AlwaysAllow \
		--oom-score-adj 0 \
		--eviction-hard 'memory.available<100Mi,nodefs.available<2%,imagefs.available<2%' \
		--image-gc-high-threshold 100 \
		--serialize-image-pulls=false \
		--register-node=true
}
# Ready, and said so by this kubelet: after a restart etcd still holds the old status.
node_ready() {
	alive_or_die kubelet
	local ready
	ready=$(kctl get node "$NODE" -o \
		'jsonpath={range .status.conditions[?(@.type=="Ready")]}{.status} {.lastHeartbeatTime}{end}')
	[ "${ready%% *}" = True ] && [ "$(date -d "${ready#* }" +%s)" -ge "$KUBELET_T0" ]
}

start_proxy() {
	spawn kube-proxy "$BIN_DIR/kube-proxy" \
		--kubeconfig "$STATE/kubeconfig" \
		--proxy-mode iptables --nodeport-addresses 127.0.0.1/32 \
		--hostname-override "$NODE" \
		--bind-address 127.0.0.1 --healthz-bind-address 127.0.0.1:10256 \
		--metrics-bind-address 127.0.0.1:10249 \
		--conntrack-max-per-core 0 --oom-score-adj 0 \
		--profiling=false
	wait_for 60 kube-proxy proxy_healthy
}
proxy_healthy() {
	alive_or_die kube-proxy
	curl -fs http://127.0.0.1:10256/healthz >/dev/null
}

default_sa_ready() {
	[ -n "$(kctl -n default get serviceaccount default -o 'jsonpath={.secrets[0].name}')" ]
}

start_metrics_api() {
	# The interpreter itself, not a wrapper that execs it (pyenv's python3 is a shell script).
	local python
	python=$(python3 -c 'import sys; print(sys.executable)')
	spawn metrics-api "$python" "$HERE/metrics_api.py" \
		--port "$METRICS_PORT" --state-dir "$STATE" --node-name "$NODE" \
		--apiserver "https://127.0.0.1:$APISERVER_PORT" --token-file "$STATE/token"
	wait_for 30 metrics-api metrics_listening
	python3 "$HERE/metrics_api.py" --manifests --port "$METRICS_PORT" | kctl apply -f - >/dev/null
	wait_for 90 "metrics APIService Available" metrics_available
}
metrics_listening() {
	alive_or_die metrics-api
	curl -fsk "https://127.0.0.1:$METRICS_PORT/healthz" >/dev/null
}
metrics_available() {
	[ "$(kctl get apiservice v1beta1.metrics.k8s.io \
		-o 'jsonpath={.status.conditions[?(@.type=="Available")].status}')" = True ]
}

cmd_start() {
	require_root
	local t0=$SECONDS b
	for b in "${BINARIES[@]}" pause; do
		[ -x "$BIN_DIR/$b" ] || die "$BIN_DIR/$b missing: run '$0 install' first"
	done
	mkdir -p "$STATE"
	STATE=$(cd "$STATE" && pwd)
	NODE=$(hostname | tr '[:upper:]' '[:lower:]')
	export PATH="$BIN_DIR:$PATH"
	step "dockerd" ensure_docker
	step "pause image $PAUSE_IMAGE" ensure_pause_image
	step "certificates, token, kubeconfig" make_certs
	save_sysctls
	step "etcd (127.0.0.1:$ETCD_PORT)" start_etcd
	step "kube-apiserver (https://127.0.0.1:$APISERVER_PORT)" start_apiserver
	step "kube-controller-manager + kube-scheduler" start_controllers
	step "kube-proxy (iptables, NodePorts on 127.0.0.1)" start_proxy
	step "kubelet (dockershim), node $NODE Ready" start_kubelet_and_wait
	step "default service account + token" wait_for 120 "default service account" default_sa_ready
	step "metrics.k8s.io API (127.0.0.1:$METRICS_PORT)" start_metrics_api
	log "cluster ready in $((SECONDS - t0))s: export KUBECONFIG=$STATE/kubeconfig"
}
start_kubelet_and_wait() {
	KUBELET_T0=$(date +%s)
	start_kubelet
	wait_for 180 "node $NODE Ready" node_ready
}

# The kubelet and kube-proxy change these; stop puts back what was there before.
SYSCTLS=(net.ipv4.conf.all.route_localnet vm.overcommit_memory vm.panic_on_oom kernel.panic
	kernel.panic_on_oops kernel.keys.root_maxkeys kernel.keys.root_maxbytes
	net.netfilter.nf_conntrack_tcp_timeout_established
	net.netfilter.nf_conntrack_tcp_timeout_close_wait)
save_sysctls() {
	[ -f "$STATE/sysctl.orig" ] && return 0
	local k
	for k in "${SYSCTLS[@]}"; do
		sysctl -e "$k" 2>/dev/null | tr -d ' '
	done >"$STATE/sysctl.orig"
}
restore_sysctls() {
	[ -f "$STATE/sysctl.orig" ] || return 0
	local kv
	while read -r kv; do
		[ -n "$kv" ] && { sysctl -q -w "$kv" >/dev/null 2>&1 || log "could not restore $kv"; }
	done <"$STATE/sysctl.orig"
	rm -f "$STATE/sysctl.orig"
}

# ------------------------------------------------------------------- stop ---

# stop_pid NAME: TERM, wait up to 30 s, then KILL; one component at a time.
stop_pid() {
	local name=$1 pidfile=$STATE/$1.pid word pid i
	[ -f "$pidfile" ] || return 0
	pid=$(cat "$pidfile")
	word=$(cmd_word "$name")
	if running "$pid" "$word"; then
		kill -TERM "$pid" 2>/dev/null || true
		for ((i = 0; i < 300; i++)); do
			running "$pid" "$word" || break
			sleep 0.1
		done
		if running "$pid" "$word"; then
			log "$name (PID $pid) ignored SIGTERM for 30s: SIGKILL"
			kill -KILL "$pid" 2>/dev/null || true
			while running "$pid" "$word"; do sleep 0.1; done
		fi
	else
		log "$name (PID $pid) was not running"
	fi
	rm -f "$pidfile"
}

remove_pod_containers() {
	docker_running || return 0
	local ids
	mapfile -t ids < <(docker ps -aq --filter 'name=^/k8s_')
	[ "${#ids[@]}" -eq 0 ] || docker rm -f "${ids[@]}" >/dev/null
	# The kubelet's log symlinks now point nowhere.
	find /var/log/pods /var/log/containers -xtype l -delete 2>/dev/null || true
	find /var/log/pods -mindepth 1 -depth -type d -empty -delete 2>/dev/null || true
}

proxy_cleanup() {
	"$BIN_DIR/kube-proxy" --cleanup >"$STATE/kube-proxy-cleanup.log" 2>&1 ||
		log "kube-proxy --cleanup returned $? (see $STATE/kube-proxy-cleanup.log)"
}

# Whatever KUBE-* chains are left (kube-proxy --cleanup leaves the kubelet's own):
# drop the jumps to them from other chains, then flush and delete them.
remove_kube_chains() {
	local ipt table chain n
	for ipt in iptables ip6tables; do
		command -v "$ipt" >/dev/null 2>&1 || continue
		for table in filter nat mangle; do
			for chain in $("$ipt-save" -t "$table" 2>/dev/null | awk -F'[: ]' '/^:/ && $2 !~ /^KUBE-/ { print $2 }'); do
				for n in $("$ipt" -w -t "$table" -L "$chain" -n --line-numbers 2>/dev/null |
					awk '$2 ~ /^KUBE-/ { print $1 }' | sort -rn); do
					"$ipt" -w -t "$table" -D "$chain" "$n"
				done
			done
			for chain in $("$ipt-save" -t "$table" 2>/dev/null | awk -F'[: ]' '/^:KUBE-/ { print $2 }'); do
				"$ipt" -w -t "$table" -F "$chain"
			done
			for chain in $("$ipt-save" -t "$table" 2>/dev/null | awk -F'[: ]' '/^:KUBE-/ { print $2 }'); do
				"$ipt" -w -t "$table" -X "$chain"
			done
		done
	done
}

unmount_kubelet_dirs() {
	local m
	# Deepest first; tmpfs secret volumes and the like under the kubelet root dir.
	# The kubelet also bind-mounts its root dir onto itself.
	awk -v root="$STATE/kubelet" '$2 == root || index($2, root "/") == 1 { print $2 }' /proc/mounts |
		sort -r |
		while read -r m; do umount -l "$m" 2>/dev/null || true; done
}

cmd_stop() {
	require_root
	[ -d "$STATE" ] || die "no state directory $STATE"
	STATE=$(cd "$STATE" && pwd)
	local c
	for c in "${COMPONENTS[@]}"; do
		[ -f "$STATE/$c.pid" ] || continue
		step "stop $c" stop_pid "$c"
	done
	step "remove pod containers (k8s_*)" remove_pod_containers
	step "kube-proxy --cleanup (iptables)" proxy_cleanup
	step "remove leftover KUBE-* iptables chains" remove_kube_chains
	step "unmount kubelet volumes" unmount_kubelet_dirs
	step "restore sysctls changed by kubelet/kube-proxy" restore_sysctls
	if [ -f "$STATE/dockerd.started-by-us.pid" ]; then
		step "stop dockerd (started by us)" stop_pid dockerd.started-by-us
	fi
}

# ------------------------------------------------------------------- main ---

usage() {
	echo "usage: $0 install | start STATE_DIR | stop STATE_DIR" >&2
	exit 2
}

case "${1:-}" in
	install) cmd_install ;;
	start)
		[ $# -eq 2 ] || usage
		STATE=$2
		cmd_start
		;;
	stop)
		[ $# -eq 2 ] || usage
		STATE=$2
		cmd_stop
		;;
	*) usage ;;
esac
