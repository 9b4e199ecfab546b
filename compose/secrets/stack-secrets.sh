#!/bin/sh
# The Compose stack's secrets, run by compose.yaml's stack-secrets service before anything else.
#   stack-secrets.sh               keep each secret; generate any missing one (the first up)
#   stack-secrets.sh rotate NAME   a new random value for NAME (see docs/compose.md)
# A file of the same name in STACK_SECRETS (mounted at $GIVEN) is used as it is, at every run.
# The store volume keeps every secret for the stack's lifetime (down -v removes it, with the
# data); each service mounts a volume of its own holding only the secrets it reads.
set -eu

STORE=/stack/store
GIVEN=/stack/given
SERVICES=/stack/for
# In the order generated: an administrator's URL carries the root password.
NAMES="db-root-password db-admin-url placement-database-url keystone-admin-password placement-keystone-password"
# Who reads what: the folder under $SERVICES, then its secrets.
READERS="galera:db-root-password
db-init:db-admin-url,placement-database-url
placedock:placement-database-url
keystone:keystone-admin-password
ks-register:keystone-admin-password,placement-keystone-password
placedock-keystone:placement-database-url,placement-keystone-password"
# What rotate may change: secrets that a one-shot sets again on its next run (db-init's ALTER
# USER, ks-register's password set). MariaDB's root and keystone's admin password live in
# their data, set once when it is created.
ROTATABLE="placement-database-url placement-keystone-password"

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
			printf 'mysql+pymysql://root:%s@haproxy:3306/?charset=utf8mb4' "$(cat "$STORE/db-root-password")"
			;;
		placement-database-url)
			printf 'mysql+pymysql://placement:%s@haproxy:3306/placement?charset=utf8mb4' "$(random_password)"
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
	if [ "$#" -gt 0 ]; then
		if [ "$1" != rotate ] || [ "$#" -ne 2 ]; then
			fail "usage: stack-secrets.sh [rotate NAME]"
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
	hand_out
}

main "$@"
