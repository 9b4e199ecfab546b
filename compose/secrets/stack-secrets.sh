#!/bin/sh
# The Compose stack's secrets, run by compose.yaml's stack-secrets service before anything else.
#   stack-secrets.sh               keep each secret; generate any missing one (the first up)
#   stack-secrets.sh rotate NAME   a new random value for NAME (see docs/compose.md)
#   stack-secrets.sh ca            print the stack's CA certificate (clients trust it)
# A file of the same name in STACK_SECRETS (mounted at $GIVEN) is used as it is, at every run.
# The store volume keeps every secret for the stack's lifetime (down -v removes it, with the
# data); each service mounts a volume of its own holding only the secrets it reads.
set -eu

STORE=/stack/store
GIVEN=/stack/given
SERVICES=/stack/for
# Passwords and URLs, in the order generated: an administrator's URL carries the root password.
NAMES="db-root-password db-admin-url placement-database-url keystone-admin-password placement-keystone-password"
# Certificates the stack's own CA signs (ca.key never leaves the store): name and DNS names.
#   api: HAProxy's API front (or api.pem from STACK_SECRETS: your own certificate and key)
#   placedock: every replica (HAProxy checks the name); haproxy-client: HAProxy to the replicas
#   galera: every node, for clients (through HAProxy: the name haproxy) and for replication
CERTIFICATES="api:localhost,haproxy
placedock:placedock,placedock-keystone
haproxy-client:haproxy
galera:haproxy,galera-1,galera-2,galera-3"
CERTIFICATE_DAYS=825 # the most a browser accepts; down -v and up make new ones
# Who reads what: the folder under $SERVICES, then its secrets.
READERS="galera:db-root-password,ca.crt,galera.crt,galera.key
haproxy:api.pem,haproxy-client.pem,ca.crt
db-init:db-admin-url,placement-database-url,ca.crt
placedock:placement-database-url,ca.crt,placedock.crt,placedock.key
keystone:keystone-admin-password
ks-register:keystone-admin-password,placement-keystone-password
placedock-keystone:placement-database-url,placement-keystone-password,ca.crt,placedock.crt,placedock.key"
# What rotate may change: secrets that a one-shot sets again on its next run (db-init's ALTER
# USER, ks-register's password set). MariaDB's root and keystone's admin password live in
# their data, set once when it is created.
ROTATABLE="placement-database-url placement-keystone-password"
# The database URLs check the Galera node's certificate (PyMySQL checks its name, haproxy).
TLS_QUERY="ssl_ca=/run/secrets/ca.crt"

say() { printf 'stack-secrets: %s\n' "$*" >&2; }
fail() {
	say "$*"
	exit 2
}

random_password() {
	# 32 letters and digits (190 bits): safe in a URL, a shell word and a config file.
	tr -dc 'A-Za-z0-9' </dev/urandom | head -c 32
}

generated_value() {
	case "$1" in
		db-admin-url)
			printf 'mysql+pymysql://root:%s@haproxy:3306/?charset=utf8mb4&%s' \
				"$(cat "$STORE/db-root-password")" "$TLS_QUERY"
			;;
		placement-database-url)
			printf 'mysql+pymysql://placement:%s@haproxy:3306/placement?charset=utf8mb4&%s' \
				"$(random_password)" "$TLS_QUERY"
			;;
		*)
			random_password
			;;
	esac
}

store() {
	# Written aside, then renamed: a stop mid-write never leaves half a secret.
	(umask 077 && cat >"$STORE/.$1.new")
	mv "$STORE/.$1.new" "$STORE/$1"
}

settle() {
	local_name=$1 rotate=$2
	if [ -f "$GIVEN/$local_name" ]; then
		[ "$rotate" = no ] || fail "$local_name: given in STACK_SECRETS; change the file there"
		tr -d '\r\n' <"$GIVEN/$local_name" | store "$local_name"
		[ -s "$STORE/$local_name" ] || fail "$local_name: the file in STACK_SECRETS is empty"
		say "$local_name: given"
	elif [ -s "$STORE/$local_name" ] && [ "$rotate" = no ]; then
		say "$local_name: kept"
	else
		generated_value "$local_name" | store "$local_name"
		if [ "$rotate" = no ]; then say "$local_name: generated"; else say "$local_name: rotated"; fi
	fi
}

openssl_quiet() { openssl "$@" 2>/dev/null || fail "openssl $1 failed"; }

certificate_authority() {
	[ -s "$STORE/ca.crt" ] && [ -s "$STORE/ca.key" ] && return 0
	(umask 077 && openssl_quiet req -x509 -newkey rsa:3072 -nodes -keyout "$STORE/ca.key" \
		-out "$STORE/ca.crt" -subj "/CN=placedock Compose stack CA" -days 3650 \
		-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign")
	chmod 0644 "$STORE/ca.crt"
	say "ca.crt: generated (the stack's own CA)"
}

# issue NAME DNS,NAMES: NAME.key, NAME.crt and NAME.pem (both, as HAProxy reads them).
issue() {
	[ -s "$STORE/$1.crt" ] && return 0
	# The certificate's own name (its CN) among its DNS names too: a checker that matches a
	# certificate against the CN its peer gave (as an rsync donor's stunnel did) finds it.
	names=$(printf 'DNS:%s,%s' "$1" "$2" | sed 's/,/,DNS:/g')
	(umask 077 && openssl_quiet req -newkey rsa:2048 -nodes -keyout "$STORE/$1.key" \
		-out "$STORE/$1.csr" -subj "/CN=$1" -addext "subjectAltName=$names,IP:127.0.0.1")
	printf 'subjectAltName=%s,IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n' "$names" \
		>"$STORE/$1.ext"
	(umask 077 && openssl_quiet x509 -req -in "$STORE/$1.csr" -CA "$STORE/ca.crt" \
		-CAkey "$STORE/ca.key" -CAcreateserial -days "$CERTIFICATE_DAYS" -sha256 \
		-extfile "$STORE/$1.ext" -out "$STORE/$1.crt")
	rm -f "$STORE/$1.csr" "$STORE/$1.ext"
	cat "$STORE/$1.crt" "$STORE/$1.key" | store "$1.pem"
	say "$1.crt: generated (signed by the stack's CA)"
}

certificates() {
	certificate_authority
	printf '%s\n' "$CERTIFICATES" | while IFS=: read -r name dns_names; do
		issue "$name" "$dns_names"
	done
	if [ -f "$GIVEN/api.pem" ]; then
		store api.pem <"$GIVEN/api.pem"
		say "api.pem: given"
	fi
}

hand_out() {
	printf '%s\n' "$READERS" | while IFS=: read -r reader names; do
		mkdir -p "$SERVICES/$reader"
		for name in $(printf '%s' "$names" | tr ',' ' '); do
			cp "$STORE/$name" "$SERVICES/$reader/.$name.new"
			chmod 0444 "$SERVICES/$reader/.$name.new" # the services' users differ
			mv "$SERVICES/$reader/.$name.new" "$SERVICES/$reader/$name"
		done
	done
}

main() {
	rotating=""
	if [ "$#" -eq 1 ] && [ "$1" = ca ]; then
		cat "$STORE/ca.crt"
		return 0
	fi
	if [ "$#" -gt 0 ]; then
		if [ "$1" != rotate ] || [ "$#" -ne 2 ]; then
			fail "usage: stack-secrets.sh [rotate NAME | ca]"
		fi
		case " $ROTATABLE " in
			*" $2 "*) rotating=$2 ;;
			*) fail "$2: not rotatable here (only: $ROTATABLE); see docs/compose.md" ;;
		esac
	fi
	mkdir -p "$STORE"
	chmod 0700 "$STORE"
	for name in $NAMES; do
		if [ "$name" = "$rotating" ]; then settle "$name" yes; else settle "$name" no; fi
	done
	certificates
	hand_out
}

main "$@"
