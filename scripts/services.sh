#!/usr/bin/env bash
# Make PostgreSQL and Redis reachable for `make run` / `make test`.
#
# Quiet and idempotent: when both services answer and the databases exist it
# prints nothing and exits 0. Otherwise, for loopback targets only, it installs
# (apt-get), starts and configures what is missing, printing short progress
# lines to stderr. A remote target that does not answer is an error.
#
# Environment:
#   PGHOST (127.0.0.1)  PGPORT (5432)  PGUSER (postgres)
#   REDIS_HOST (127.0.0.1)  REDIS_PORT (6379)
#   EZ_REDIS_ADDR  host:port, used when REDIS_HOST / REDIS_PORT are not set
#   EZ_SERVICES_CHROMIUM (0)  1: also install Chromium for tests/browser
#   EZ_SERVICES_DEPLOY (0)    1: also install promtool (Debian's prometheus) and
#                             docker-compose for the deployment-kit checks (tests/deploy)
set -euo pipefail

PG_WAIT_SECONDS=30
REDIS_WAIT_SECONDS=15
DATABASES=(ezapi ezapi_test)

# --- configuration ------------------------------------------------------------

redis_addr_host="" redis_addr_port=""
if [[ -n "${EZ_REDIS_ADDR:-}" ]]; then
	addr="${EZ_REDIS_ADDR#redis://}"
	addr="${addr%%/*}"
	if [[ "$addr" =~ ^\[([^]]+)\](:([0-9]+))?$ ]]; then # [::1]:6379
		redis_addr_host="${BASH_REMATCH[1]}"
		redis_addr_port="${BASH_REMATCH[3]}"
	elif [[ "$addr" =~ ^([^:]+):([0-9]+)$ ]]; then # host:port
		redis_addr_host="${BASH_REMATCH[1]}"
		redis_addr_port="${BASH_REMATCH[2]}"
	elif [[ -n "$addr" && "$addr" != *:*:* ]]; then # host
		redis_addr_host="${addr%:}"
	fi
fi

PGHOST="${PGHOST:-127.0.0.1}"
PGPORT="${PGPORT:-5432}"
PGUSER="${PGUSER:-postgres}"
REDIS_HOST="${REDIS_HOST:-${redis_addr_host:-127.0.0.1}}"
REDIS_PORT="${REDIS_PORT:-${redis_addr_port:-6379}}"
export PGHOST PGPORT PGUSER

# --- helpers ------------------------------------------------------------------

say() { printf 'services: %s\n' "$*" >&2; }
die() {
	say "error: $*"
	exit 1
}

SUDO=()
if [[ "$(id -u)" -ne 0 ]] && command -v sudo >/dev/null 2>&1; then
	SUDO=(sudo)
fi
# as_root CMD...: run CMD as root (directly, or via sudo when not root).
as_root() { "${SUDO[@]}" "$@"; }

is_loopback() {
	case "$1" in
	localhost | ::1 | 127.*) return 0 ;;
	*) return 1 ;;
	esac
}

# with_timeout SECONDS CMD...: bound a command that might hang (e.g. on a
# filtered remote port).
with_timeout() {
	local secs="$1"
	shift
	if command -v timeout >/dev/null 2>&1; then
		timeout "$secs" "$@"
	else
		"$@"
	fi
}

apt_updated=0
apt_install() {
	local log
	log="$(mktemp)"
	if [[ "$apt_updated" -eq 0 ]]; then
		say "apt-get update"
		if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >"$log" 2>&1; then
			tail -n 20 "$log" >&2
			rm -f "$log"
			die "apt-get update failed"
		fi
		apt_updated=1
	fi
	say "installing $*"
	if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >"$log" 2>&1; then
		tail -n 20 "$log" >&2
		rm -f "$log"
		die "apt-get install $* failed"
	fi
	rm -f "$log"
}

# wait_for SECONDS PROBE...: poll PROBE every 0.5 s, at most SECONDS.
wait_for() {
	local secs="$1" i deadline
	shift
	deadline=$((SECONDS + secs))
	for ((i = 0; i < secs * 2; i++)); do
		"$@" && return 0
		((SECONDS >= deadline)) && break
		sleep 0.5
	done
	"$@"
}

# --- PostgreSQL -----------------------------------------------------------------

pg_reachable() {
	if command -v pg_isready >/dev/null 2>&1; then
		with_timeout 5 pg_isready -q -t 3 -h "$PGHOST" -p "$PGPORT" >/dev/null 2>&1
	else
		# shellcheck disable=SC2016 # expanded by the inner bash
		with_timeout 3 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$PGHOST" "$PGPORT" 2>/dev/null
	fi
}

pg_query() { # pg_query SQL: run against the postgres database, never prompt
	with_timeout 15 psql -X -w -q -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" -d postgres -v ON_ERROR_STOP=1 -tAc "$1"
}

pg_server_installed() {
	command -v pg_ctlcluster >/dev/null 2>&1 &&
		compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null
}

# pg_cluster_for_port: print "version name status" of the cluster configured
# for $PGPORT, if any.
pg_cluster_for_port() {
	command -v pg_lsclusters >/dev/null 2>&1 || return 0
	pg_lsclusters -h 2>/dev/null | awk -v p="$PGPORT" '$3 == p { print $1, $2, $4; exit }'
}

pg_newest_version() { # newest configured version, else newest installed one
	local v
	v="$(find /etc/postgresql -mindepth 1 -maxdepth 1 -type d -printf '%f\n' 2>/dev/null | sort -V | tail -n 1)"
	if [[ -z "$v" ]]; then
		v="$(find /usr/lib/postgresql -mindepth 1 -maxdepth 1 -type d -printf '%f\n' 2>/dev/null | sort -V | tail -n 1)"
	fi
	printf '%s\n' "$v"
}

pg_ctl() { # pg_ctl VERSION CLUSTER ACTION
	as_root pg_ctlcluster --skip-systemctl-redirect "$1" "$2" "$3"
}

pg_start_local() {
	if ! pg_server_installed; then
		apt_install postgresql postgresql-client
	fi
	pg_server_installed || die "PostgreSQL server binaries not found after installation"

	local ver="" cl="" status="" found
	found="$(pg_cluster_for_port)"
	if [[ -n "$found" ]]; then
		read -r ver cl status <<<"$found"
	else
		ver="$(pg_newest_version)"
		[[ -n "$ver" ]] || die "no PostgreSQL version found under /etc/postgresql or /usr/lib/postgresql"
		cl=main
		if [[ ! -f "/etc/postgresql/$ver/$cl/postgresql.conf" ]]; then
			say "creating PostgreSQL cluster $ver/$cl on port $PGPORT"
			as_root pg_createcluster -p "$PGPORT" "$ver" "$cl" >/dev/null
		else
			say "setting port $PGPORT for PostgreSQL cluster $ver/$cl"
			as_root pg_conftool "$ver" "$cl" set port "$PGPORT"
		fi
		status="$(pg_lsclusters -h 2>/dev/null | awk -v v="$ver" -v c="$cl" '$1 == v && $2 == c { print $4; exit }')"
	fi

	# Listen on loopback (the Debian default 'localhost' does).
	local listen
	listen="$(as_root pg_conftool -s "$ver" "$cl" show listen_addresses 2>/dev/null || true)"
	if [[ -n "$listen" && ! "$listen" =~ (^|[,[:space:]])(\*|localhost|127\.0\.0\.1|0\.0\.0\.0)([,[:space:]]|$) ]]; then
		say "setting listen_addresses='localhost,$listen' for PostgreSQL $ver/$cl"
		as_root pg_conftool "$ver" "$cl" set listen_addresses "localhost,$listen"
	fi

	local action=start wait="$PG_WAIT_SECONDS"
	[[ "$status" == online* ]] && action=restart
	say "${action}ing PostgreSQL $ver/$cl"
	# On failure still poll briefly: a concurrent run may have started it.
	pg_ctl "$ver" "$cl" "$action" || wait=5
	if ! wait_for "$wait" pg_reachable; then
		tail -n 20 "/var/log/postgresql/postgresql-$ver-$cl.log" >&2 2>/dev/null || true
		die "PostgreSQL $ver/$cl did not become reachable on $PGHOST:$PGPORT within ${wait}s"
	fi
}

# pg_hba_has_trust FILE: the loopback trust lines come before any other host rule.
pg_hba_has_trust() {
	as_root cat "$1" | awk '
		/^[[:space:]]*(#|$)/ { next }
		$1 == "local" { next }
		{ n++; line = $1 " " $2 " " $3 " " $4 " " $5 }
		line == "host all all 127.0.0.1/32 trust" { v4 = 1 }
		line == "host all all ::1/128 trust" { v6 = 1 }
		n >= 2 { exit }
		END { exit !(v4 && v6) }'
}

pg_ensure_trust() {
	local err
	if err="$(pg_query 'SELECT 1' 2>&1 >/dev/null)"; then
		return 0
	fi
	is_loopback "$PGHOST" || die "cannot connect to PostgreSQL at $PGHOST:$PGPORT as $PGUSER: $err"

	local found ver cl status hba
	found="$(pg_cluster_for_port)"
	[[ -n "$found" ]] || die "cannot connect to PostgreSQL at $PGHOST:$PGPORT as $PGUSER and no local cluster uses port $PGPORT: $err"
	read -r ver cl status <<<"$found"
	hba="$(as_root pg_conftool -s "$ver" "$cl" show hba_file 2>/dev/null || echo "/etc/postgresql/$ver/$cl/pg_hba.conf")"

	if ! pg_hba_has_trust "$hba"; then
		say "adding loopback trust rules to $hba"
		local tmp
		tmp="$(mktemp)"
		{
			echo '# added by ez-api scripts/services.sh: trust local TCP connections (development)'
			echo 'host all all 127.0.0.1/32 trust'
			echo 'host all all ::1/128 trust'
			as_root cat "$hba"
		} >"$tmp"
		as_root cp "$tmp" "$hba" # cp onto the existing file keeps its owner and mode
		rm -f "$tmp"
		pg_ctl "$ver" "$cl" reload >/dev/null
	fi

	local i
	for ((i = 0; i < 10; i++)); do
		err="$(pg_query 'SELECT 1' 2>&1 >/dev/null)" && return 0
		sleep 0.5
	done
	die "cannot connect to PostgreSQL at $PGHOST:$PGPORT as $PGUSER: $err"
}

pg_ensure_databases() {
	local db exists
	for db in "${DATABASES[@]}"; do
		exists="$(pg_query "SELECT 1 FROM pg_database WHERE datname='$db'")" ||
			die "cannot query PostgreSQL at $PGHOST:$PGPORT as $PGUSER"
		[[ "$exists" == 1 ]] && continue
		say "creating database $db"
		if ! with_timeout 30 createdb -w -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" "$db"; then
			# Tolerate a concurrent run having created it meanwhile.
			[[ "$(pg_query "SELECT 1 FROM pg_database WHERE datname='$db'")" == 1 ]] ||
				die "could not create database $db"
		fi
	done
}

ensure_postgres() {
	if ! pg_reachable; then
		is_loopback "$PGHOST" || die "PostgreSQL at $PGHOST:$PGPORT is not reachable (remote host: not starting anything)"
		pg_start_local
	fi
	if ! command -v psql >/dev/null 2>&1 || ! command -v createdb >/dev/null 2>&1; then
		apt_install postgresql-client
	fi
	pg_ensure_trust
	pg_ensure_databases
}

# --- Redis ----------------------------------------------------------------------

redis_reachable() {
	local reply
	if command -v redis-cli >/dev/null 2>&1; then
		reply="$(with_timeout 5 redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping 2>/dev/null)" || true
	else
		# shellcheck disable=SC2016 # expanded by the inner bash
		reply="$(with_timeout 3 bash -c '
			exec 3<>"/dev/tcp/$1/$2" || exit 1
			printf "PING\r\n" >&3
			IFS= read -r -t 2 line <&3 || exit 1
			printf "%s\n" "$line"' _ "$REDIS_HOST" "$REDIS_PORT" 2>/dev/null)" || return 1
		reply="${reply%$'\r'}"
	fi
	# NOAUTH: it answers, the password is the application's business.
	[[ "$reply" == PONG || "$reply" == +PONG || "$reply" == NOAUTH* || "$reply" == -NOAUTH* ]]
}

redis_start_local() {
	if ! command -v redis-server >/dev/null 2>&1; then
		apt_install redis-server
	fi
	command -v redis-server >/dev/null 2>&1 || die "redis-server not found after installation"
	as_root mkdir -p /var/lib/redis /var/log/redis
	say "starting Redis on 127.0.0.1:$REDIS_PORT"
	as_root redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" --save "" \
		--appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log >/dev/null || true
	if ! wait_for "$REDIS_WAIT_SECONDS" redis_reachable; then
		as_root tail -n 20 /var/log/redis/ci.log >&2 2>/dev/null || true
		die "Redis did not become reachable on $REDIS_HOST:$REDIS_PORT within ${REDIS_WAIT_SECONDS}s"
	fi
}

ensure_redis() {
	redis_reachable && return 0
	is_loopback "$REDIS_HOST" || die "Redis at $REDIS_HOST:$REDIS_PORT is not reachable (remote host: not starting anything)"
	redis_start_local
}

# --- Chromium (tests/browser) -----------------------------------------------

chromium_installed() { [[ -x /usr/bin/chromium ]] || command -v chromium >/dev/null 2>&1; }

ensure_chromium() {
	chromium_installed && return 0
	apt_install chromium
	chromium_installed || die "chromium not found after installation"
}

# --- deployment-kit tools (tests/deploy) ----------------------------------------

# ensure_deploy_tools: promtool checks deploy/prometheus, docker-compose checks
# compose.yaml (`config` only: no container engine is needed). Debian's
# prometheus package does not start a server here; recommends are skipped so
# no exporter comes along.
ensure_deploy_tools() {
	local missing=()
	command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
	command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
	((${#missing[@]} == 0)) && return 0
	apt_install --no-install-recommends "${missing[@]}"
	command -v promtool >/dev/null 2>&1 || die "promtool not found after installation"
	command -v docker-compose >/dev/null 2>&1 || die "docker-compose not found after installation"
}

ensure_postgres
ensure_redis
if [[ "${EZ_SERVICES_CHROMIUM:-0}" == 1 ]]; then
	ensure_chromium
fi
if [[ "${EZ_SERVICES_DEPLOY:-0}" == 1 ]]; then
	ensure_deploy_tools
fi
