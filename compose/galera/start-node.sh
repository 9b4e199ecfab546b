#!/usr/bin/env bash
# Start one Galera node, and the cluster again by itself after any stop:
# 1. a peer is in service (its check port says synced or donor): a cluster runs; join it,
#    one joiner at a time, asking first the peers HAProxy sends no client to for the copy;
# 2. this node was in the primary component when it died (gvwstate.dat survives a crash, a
#    SIGKILL, a power cut): start and let Galera restore that component once its members are
#    back (pc.recovery), with no node chosen by hand;
# 3. else (a clean stop of every node, in any order; a brand-new cluster; a node that lost its
#    volume): the nodes tell each other their last committed position (on the check port, 9200,
#    before the server runs) and, once every node has told, the most advanced one starts the
#    cluster (ties: safe_to_bootstrap, then GALERA_BOOTSTRAP_NODE, then the order of
#    GALERA_PEERS) and the others join it. A node never starts a cluster without every peer's
#    position: a stale node never bootstraps, and never two.
#   GALERA_NODE_NAME         this node's name, which its peers resolve (the Compose service name)
#   GALERA_PEERS             every node's name, comma-separated
#   GALERA_BOOTSTRAP_NODE    the node preferred among equally advanced ones (a new cluster's)
#   MARIADB_ROOT_PASSWORD_FILE  root's password for connections over the network (a new cluster)
set -eu

DATA_DIR=/var/lib/mysql
CHECK_PORT=9200
PEER_WAIT_S=${GALERA_PEER_WAIT_S:-300}
JOIN_QUEUE_WAIT_S=120
# Read by synced-check.sh while the server is not up: what this node tells its peers.
POSITION_FILE=/run/mysqld/placedock-position
NO_CLUSTER=00000000-0000-0000-0000-000000000000

log() { printf 'galera %s: %s\n' "$GALERA_NODE_NAME" "$*" >&2; }

# A peer's check port's answer (synced-check.sh): its status line, then its body; nothing when
# it does not answer within 3 s.
check_answer() {
	timeout 3 bash -c "exec 3<>/dev/tcp/$1/$CHECK_PORT && printf 'GET / HTTP/1.0\r\n\r\n' >&3 && cat <&3" 2>/dev/null || true
}

# A peer whose check port says it is in service (synced, or a donor): a primary component runs,
# and this node joins it. A peer whose server merely runs is not enough: peers restoring their
# primary component (pc.recovery) are non-primary until every member of it is back, and a node
# joining them meanwhile was seen to keep them so.
peer_in_service() {
	local peer
	for peer in ${GALERA_PEERS//,/ }; do
		[ "$peer" = "$GALERA_NODE_NAME" ] && continue
		case "$(check_answer "$peer" | head -n 1)" in
			"HTTP/1.1 200"*) return 0 ;;
		esac
	done
	return 1
}

# A peer's state as its check port tells it (synced-check.sh): its wsrep_local_state (4 synced,
# 2 donor, 1 joining, 3 joined), "waiting" while its start-node.sh waits before starting its
# server, nothing when it does not answer.
peer_state() {
	local answer
	answer=$(check_answer "$1")
	case "$answer" in
		*"wsrep_local_state="*) printf '%s\n' "${answer##*wsrep_local_state=}" | head -n 1 | tr -dc 0-9 ;;
		*"position: "*) echo waiting ;;
	esac
}

# Whether this node may join now: a peer is synced, none is giving or taking a state transfer,
# and none before this one in GALERA_PEERS is about to ask for one. Joiners one at a time: a
# second joiner has to wait for a donor, and a joiner whose donor came late was seen to stop
# after its copy ("IST didn't contain all write sets ... node restart required") on MariaDB
# 10.11 and 11.8. After JOIN_QUEUE_WAIT_S (a peer stuck mid-join), any peer in service will do.
may_join() {
	local waited=$1 peer state synced=false earlier=true
	[ "$waited" -ge "$JOIN_QUEUE_WAIT_S" ] && {
		peer_in_service
		return
	}
	for peer in ${GALERA_PEERS//,/ }; do
		if [ "$peer" = "$GALERA_NODE_NAME" ]; then
			earlier=false
			continue
		fi
		state=$(peer_state "$peer")
		case "$state" in
			4) synced=true ;;
			1 | 2 | 3) return 1 ;;
			waiting) [ "$earlier" = false ] || return 1 ;;
		esac
	done
	[ "$synced" = true ]
}

grastate() {
	[ -f "$DATA_DIR/grastate.dat" ] || return 0
	sed -n "s/^$1: *//p" "$DATA_DIR/grastate.dat"
}

# This node's last committed position: "uuid seqno safe_to_bootstrap" (a new data directory:
# no cluster, -1). $1: the position InnoDB recovered after an unclean stop, if any.
own_position() {
	local uuid seqno safe
	uuid=$(grastate uuid)
	seqno=$(grastate seqno)
	safe=$(grastate safe_to_bootstrap)
	if [ -n "$1" ]; then
		uuid=${1%:*}
		seqno=${1##*:}
	fi
	printf '%s %s %s\n' "${uuid:-$NO_CLUSTER}" "${seqno:--1}" "${safe:-0}"
}

# A peer's position as its check port tells it while its server is not up; nothing otherwise.
peer_position() {
	check_answer "$1" | sed -n 's/^position: //p' | head -n 1
}

# Prints the node that must start the cluster, once every node has told its position; nothing
# while one has not. Nodes of different clusters: nothing either (never guessed).
bootstrap_node() {
	local mine=$1 peer position rank=0 uuid="" best="" best_key=""
	for peer in ${GALERA_PEERS//,/ }; do
		rank=$((rank + 1))
		if [ "$peer" = "$GALERA_NODE_NAME" ]; then
			position=$mine
		else
			position=$(peer_position "$peer")
			[ -n "$position" ] || return 0
		fi
		set -- $position
		if [ "$1" != "$NO_CLUSTER" ]; then
			if [ -n "$uuid" ] && [ "$uuid" != "$1" ]; then
				log "nodes of different clusters ($uuid, $1): starting none"
				return 0
			fi
			uuid=$1
		fi
		# Most advanced first; then safe_to_bootstrap; then the preferred node; then the order.
		local preferred=0
		[ "$peer" = "$GALERA_BOOTSTRAP_NODE" ] && preferred=1
		local key
		key=$(printf '%020d %d %d %03d' "$(($2 + 1))" "$3" "$preferred" "$((999 - rank))")
		if [ -z "$best" ] || [[ "$key" > "$best_key" ]]; then
			best=$peer
			best_key=$key
		fi
	done
	printf '%s\n' "$best"
}

# The nodes a state transfer (IST or SST) is asked of, in order: every peer but the first, which
# HAProxy sends all clients to (compose/haproxy/haproxy.cfg), so that a copy costs no node in
# service; the trailing comma lets Galera take any synced node when none of them is.
preferred_donors() {
	local peer donors=""
	for peer in ${GALERA_PEERS//,/ }; do
		[ "$peer" = "${GALERA_PEERS%%,*}" ] || [ "$peer" = "$GALERA_NODE_NAME" ] ||
			donors+="$peer,"
	done
	printf '%s\n' "${donors:-,}"
}

mark_safe_to_bootstrap() {
	[ -f "$DATA_DIR/grastate.dat" ] || return 0
	sed -i 's/^safe_to_bootstrap: *0/safe_to_bootstrap: 1/' "$DATA_DIR/grastate.dat"
}

# The SQL run once, when this node starts a brand-new cluster: root may connect over the
# network (HAProxy, db-init) with the password from the secret. Joiners receive it by SST.
first_start_sql() {
	local password
	password=$(tr -d '\r\n' <"$MARIADB_ROOT_PASSWORD_FILE")
	password=${password//\\/\\\\}
	password=${password//\'/\\\'}
	cat <<SQL
CREATE USER IF NOT EXISTS 'root'@'%' IDENTIFIED BY '$password';
GRANT ALL PRIVILEGES ON *.* TO 'root'@'%' WITH GRANT OPTION;
SQL
}

# A node stopped uncleanly (docker kill, a crash, the OOM killer) has seqno -1 in grastate.dat,
# and would ask for a full copy of the data (SST), which costs its donor a hot backup of every
# table and the network the copy takes. InnoDB still knows the last write set it committed:
# start from there, and the node only catches up on what it missed (IST, from a peer's gcache).
# Prints the position (uuid:seqno), or nothing when there is nothing to recover or it failed.
recovered_position() {
	grep -q '^seqno: *-1' "$DATA_DIR/grastate.dat" 2>/dev/null || return 0
	local log=/tmp/wsrep-recover.log
	if mariadbd --user=mysql --wsrep-recover --wsrep-cluster-address="gcomm://$GALERA_PEERS" \
		--log-error="$log"; then
		sed -n 's/.*WSREP: Recovered position: *//p' "$log" | tail -n 1
	else
		log "recovering the position failed (a full state transfer follows):"
		tail -n 20 "$log" >&2
	fi
}

initialise_data_dir() {
	log "initialising a new data directory"
	chown mysql:mysql "$DATA_DIR"
	# Without the Galera settings: the system tables are made by a server that must not join.
	if ! mariadb-install-db --no-defaults --user=mysql --datadir="$DATA_DIR" --skip-test-db \
		--auth-root-authentication-method=socket >/tmp/install-db.log 2>&1; then
		cat /tmp/install-db.log >&2
		# A half-made directory would pass for an initialised one at the next start.
		find "$DATA_DIR" -mindepth 1 -delete
		exit 1
	fi
}

main() {
	local fresh=false args=()
	if [ ! -d "$DATA_DIR/mysql" ]; then
		initialise_data_dir
	fi
	# Never in a cluster yet (no grastate.dat; a start that failed after initialising counts
	# too): a cluster started here needs root's network account (first_start_sql).
	[ -f "$DATA_DIR/grastate.dat" ] || fresh=true
	chown -R mysql:mysql "$DATA_DIR" /run/mysqld
	args=(--user=mysql --wsrep-node-name="$GALERA_NODE_NAME"
		--wsrep-node-address="$(hostname -i | cut -d' ' -f1)"
		--wsrep-cluster-address="gcomm://$GALERA_PEERS"
		--wsrep-sst-donor="$(preferred_donors)")
	local position
	position=$(recovered_position)
	if [ -n "$position" ]; then
		log "recovered position $position after an unclean stop"
		args+=(--wsrep-start-position="$position")
	fi
	# The check port answers from now on: the position before the server runs, then its state.
	own_position "$position" >"$POSITION_FILE"
	socat -T 5 TCP-LISTEN:$CHECK_PORT,fork,reuseaddr EXEC:/usr/local/bin/synced-check.sh &
	local waited=0 chosen
	if [ -f "$DATA_DIR/gvwstate.dat" ]; then
		log "in the primary component when it stopped (gvwstate.dat): starting, to restore it with its peers"
	else
		until may_join "$waited"; do
			chosen=""
			peer_in_service || chosen=$(bootstrap_node "$(cat "$POSITION_FILE")")
			if [ "$chosen" = "$GALERA_NODE_NAME" ]; then
				log "every node told its position and this one is the most advanced ($(cat "$POSITION_FILE")): starting the cluster"
				mark_safe_to_bootstrap
				args+=(--wsrep-new-cluster)
				if [ "$fresh" = true ]; then
					first_start_sql >/run/mysqld/first-start.sql
					chown mysql /run/mysqld/first-start.sql
					args+=(--init-file=/run/mysqld/first-start.sql)
				fi
				break
			fi
			[ "$waited" -ge "$PEER_WAIT_S" ] && {
				log "no peer in service in ${PEER_WAIT_S} s (${chosen:-a peer has not told its position} should start the cluster)"
				exit 1
			}
			sleep 1
			waited=$((waited + 1))
		done
	fi
	[[ " ${args[*]} " == *" --wsrep-new-cluster "* ]] || log "joining the cluster"
	exec mariadbd "${args[@]}"
}

main "$@"
