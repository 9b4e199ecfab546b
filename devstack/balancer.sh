#!/usr/bin/env bash
# Print Apache's balancer over N placedock containers on 127.0.0.1:FIRST_PORT and the N-1 ports
# after it, to replace devstack's /etc/apache2/sites-enabled/placement-api.conf.
#   devstack/balancer.sh N FIRST_PORT > placement-api.conf
# Needs mod_proxy, mod_proxy_http, mod_proxy_balancer, mod_lbmethod_byrequests, mod_slotmem_shm and
# mod_proxy_hcheck: a2enmod proxy_http proxy_balancer lbmethod_byrequests proxy_hcheck
set -eu

usage() {
	echo "usage: $0 N FIRST_PORT   (N >= 1, FIRST_PORT >= 1, FIRST_PORT+N-1 <= 65535)" >&2
	exit 2
}

[ "$#" -eq 2 ] || usage
case "$1" in '' | *[!0-9]*) usage ;; esac
case "$2" in '' | *[!0-9]*) usage ;; esac
count=$((10#$1))
first=$((10#$2))
if [ "$count" -lt 1 ] || [ "$first" -lt 1 ] || [ $((first + count - 1)) -gt 65535 ]; then
	usage
fi

# Per member (see docs/devstack.md):
#   hcmethod/hcuri/hcinterval/hcfails/hcpasses  mod_proxy_hcheck asks the container's readiness
#       (/placement/health/ready: database up, schema at head) every second; one failure takes it
#       out, one success puts it back. hcuri has no leading slash: it is appended to /placement.
#   connectiontimeout=2  a member that does not answer a connection is given up quickly.
#   retry=5              a member in error is tried again after 5 s (Apache's default is 60).
#   disablereuse=On      placedock closes every connection after its response; nothing to pool.
# A refused connection is retried on another member (the balancer's failover), so a stopped
# container costs no request once its port is closed.
member_options="connectiontimeout=2 retry=5 disablereuse=On"
health_options="hcmethod=GET hcuri=health/ready hcinterval=1 hcfails=1 hcpasses=1"

echo "# placedock: $count containers behind Apache (devstack/balancer.sh $count $first)"
echo "<Proxy balancer://placement>"
for ((port = first; port < first + count; port++)); do
	echo "    BalancerMember http://127.0.0.1:$port/placement $member_options $health_options"
done
echo "    ProxySet lbmethod=byrequests"
echo "</Proxy>"
echo 'ProxyPass "/placement" balancer://placement'
