#!/usr/bin/env bash
# Start one Galera node: join a running cluster if any peer answers; else bootstrap a new one,
# but only on the node named by GALERA_BOOTSTRAP_NODE and only when its state says it is safe
# to (a fresh data directory, or grastate.dat's safe_to_bootstrap: 1). A node that must not
# bootstrap waits for a peer instead, so a restarted node always rejoins.
#   GALERA_NODE_NAME         this node's name, which its peers resolve (the Compose service name)
#   GALERA_PEERS             every node's name, comma-separated
#   GALERA_BOOTSTRAP_NODE    the one node that may start a new cluster
#   MARIADB_ROOT_PASSWORD_FILE  root's password for connections over the network (a new cluster)
set -eu

DATA_DIR=/var/lib/mysql
GROUP_PORT=4567
PEER_WAIT_S=${GALERA_PEER_WAIT_S:-300}

log() { printf 'galera %s: %s\n' "$GALERA_NODE_NAME" "$*" >&2; }

peer_answers() {
	local peer
	for peer in ${GALERA_PEERS//,/ }; do
		[ "$peer" = "$GALERA_NODE_NAME" ] && continue
		if timeout 1 bash -c ">/dev/tcp/$peer/$GROUP_PORT" 2>/dev/null; then
			return 0
		fi
	done
	return 1
}

safe_to_bootstrap() {
	[ "$GALERA_NODE_NAME" = "$GALERA_BOOTSTRAP_NODE" ] || return 1
	[ ! -f "$DATA_DIR/grastate.dat" ] && return 0
	grep -q '^safe_to_bootstrap: *1' "$DATA_DIR/grastate.dat"
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
# and would ask for a full copy of the data (SST), which takes its donor out of service for as
# long as the copy lasts. InnoDB still knows the last write set it committed: start from there,
# and the node only catches up on what it missed (IST, from a peer's gcache). Prints the
# position (uuid:seqno), or nothing when there is nothing to recover or recovery failed.
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
		fresh=true
	fi
	chown -R mysql:mysql "$DATA_DIR" /run/mysqld
	args=(--user=mysql --wsrep-node-name="$GALERA_NODE_NAME"
		--wsrep-node-address="$(hostname -i | cut -d' ' -f1)"
		--wsrep-cluster-address="gcomm://$GALERA_PEERS")
	local position
	position=$(recovered_position)
	if [ -n "$position" ]; then
		log "recovered position $position after an unclean stop"
		args+=(--wsrep-start-position="$position")
	fi
	local waited=0
	until peer_answers; do
		if safe_to_bootstrap; then
			log "no peer answers and this node may bootstrap: starting a new cluster"
			args+=(--wsrep-new-cluster)
			if [ "$fresh" = true ]; then
				first_start_sql >/run/mysqld/first-start.sql
				chown mysql /run/mysqld/first-start.sql
				args+=(--init-file=/run/mysqld/first-start.sql)
			fi
			break
		fi
		[ "$waited" -ge "$PEER_WAIT_S" ] && {
			log "no peer answered in ${PEER_WAIT_S} s"
			exit 1
		}
		sleep 1
		waited=$((waited + 1))
	done
	[[ " ${args[*]} " == *" --wsrep-new-cluster "* ]] || log "joining the cluster"
	# HAProxy's health check: 200 only while this node is synced with the cluster.
	socat -T 5 TCP-LISTEN:9200,fork,reuseaddr EXEC:/usr/local/bin/synced-check.sh &
	exec mariadbd "${args[@]}"
}

main "$@"
