#!/usr/bin/env bash
# keystone for the Compose keystone profile: on the first start, the schema, the key
# repositories and the admin user (keystone-manage bootstrap, idempotent); then uwsgi on 5000.
#   KEYSTONE_ADMIN_PASSWORD_FILE  the admin's password (a Compose secret)
#   KEYSTONE_PUBLIC_URL           keystone's own endpoint, as clients outside reach it
#   KEYSTONE_INTERNAL_URL         the same from inside the Compose network (services use it)
set -eu

STATE=/var/lib/keystone

initialise() {
	keystone-manage db_sync
	[ -d "$STATE/fernet-keys" ] || keystone-manage fernet_setup --keystone-user keystone --keystone-group keystone
	[ -d "$STATE/credential-keys" ] || keystone-manage credential_setup --keystone-user keystone --keystone-group keystone
	# The password from the environment, not argv: nothing secret in the process list.
	OS_BOOTSTRAP_PASSWORD=$(tr -d '\r\n' <"$KEYSTONE_ADMIN_PASSWORD_FILE") \
		keystone-manage bootstrap --bootstrap-username admin --bootstrap-project-name admin \
		--bootstrap-role-name admin --bootstrap-service-name keystone \
		--bootstrap-region-id RegionOne --bootstrap-admin-url "$KEYSTONE_PUBLIC_URL" \
		--bootstrap-internal-url "$KEYSTONE_INTERNAL_URL" --bootstrap-public-url "$KEYSTONE_PUBLIC_URL"
}

initialise
# --http-socket closes each connection after its response: say so, or keep-alive clients reuse
# a closed connection.
exec uwsgi --http-socket :5000 --master --need-app --die-on-term --processes 2 --threads 2 \
	--wsgi keystone.wsgi.api:application --add-header "Connection: close"
