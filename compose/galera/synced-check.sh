#!/usr/bin/env bash
# One HTTP answer for HAProxy (run by socat per connection): 200 when this node's
# wsrep_local_state is 4 (Synced) or 2 (Donor/Desynced: it holds all the data, and a
# mariadb-backup donor keeps serving while it sends, as kolla's check allows with
# AVAILABLE_WHEN_DONOR), else 503: a joiner must not take queries. Taking a donor out would
# close its connections mid-query: that failed db-init while the cluster formed (joiners' SST).
# Before the server runs, the 503's body carries the node's last position for its peers.
set -u
read -r -t 2 _request_line || true
state=$(mariadb --connect-timeout=2 -N -B -e "SHOW GLOBAL STATUS LIKE 'wsrep_local_state'" \
	2>/dev/null | cut -f2)
if [ "$state" = 4 ] || [ "$state" = 2 ]; then
	body="in service: wsrep_local_state=$state"
	status="200 OK"
elif [ -z "$state" ] && [ -s /run/mysqld/placedock-position ]; then
	# The server is not up: tell the peers this node's last position (start-node.sh).
	body="not running
position: $(cat /run/mysqld/placedock-position)"
	status="503 Service Unavailable"
else
	body="not synced: wsrep_local_state=${state:-unknown}"
	status="503 Service Unavailable"
fi
printf 'HTTP/1.1 %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s\n' \
	"$status" "$((${#body} + 1))" "$body"
