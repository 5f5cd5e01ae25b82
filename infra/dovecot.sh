#!/usr/bin/env bash
# A throwaway, unprivileged Dovecot IMAP server on loopback, for tests.
#
#   infra/dovecot.sh install          install dovecot-imapd if missing (once, before parallel tests)
#   infra/dovecot.sh start    <dir>   install if needed, start, print 127.0.0.1:<port>
#   infra/dovecot.sh stop     <dir>   stop that instance (idempotent)
#   infra/dovecot.sh restart  <dir>   stop + start, same port, password, key and mail
#   infra/dovecot.sh status   <dir>   print 127.0.0.1:<port> and exit 0 if it answers, else exit 1
#   infra/dovecot.sh selftest <dir>   on a fresh dir: start, check with python3 imaplib
#                                     (infra/dovecot/selftest.py), restart, check again, stop
#
# Must run as root (Dovecot drops to the `dovecot`/`dovenull` users itself).
# Everything lives under <dir>; /etc/dovecot is not used. If this script installs
# the package and that starts the system service (ports 143/993), it is stopped
# and disabled at once.
#
# Files under <dir>:
#   port                   the IMAP port (kept across restarts)
#   password               the static test password, mode 0600
#   oauth2/hs256.key       the HS256 JWT signing key, base64 (standard alphabet, padded)
#   oauth2/keys/<azp>/HS256/default   the same key, as Dovecot's key dict reads it
#   oauth2/dovecot-oauth2.conf.ext    the oauth2 passdb settings
#   dovecot.conf           the generated configuration, mode 0600
#   dovecot.log            the server log (auth_verbose; DOVECOT_DEBUG=1 adds auth_debug)
#   run/ state/            base_dir (master.pid, sockets) and state_dir
#   mail/<user>/           Maildir++ per user, e.g. mail/alice@corp.example/.WhatsApp Archiver/cur/
#
# Environment (read by start/restart/selftest):
#   DOVECOT_PASSWORD       static password for every user (LOGIN/PLAIN). Default: the content
#                          of <dir>/password, else a random one. Written to <dir>/password.
#   DOVECOT_PORT           port to listen on. Default: <dir>/port, else a free port.
#   DOVECOT_OAUTH_ISSUERS  space-separated allowed `iss` values. Default: empty = not checked.
#   DOVECOT_OAUTH_AZP      space-separated extra `azp` values the key is published for
#                          (tokens without `azp` use "default").
#   DOVECOT_OAUTH_USERNAME_ATTRIBUTE  claim that must equal the user logging in. Default: email.
#   DOVECOT_DEBUG=1        auth_debug + verbose oauth2 logging.
#   DOVECOT_FSYNC          mail_fsync: optimized (Dovecot's default), always or never.
#   DOVECOT_START_TIMEOUT  seconds to wait for the `* OK` greeting. Default: 20.
#
# Authentication (auth_mechanisms = plain login xoauth2 oauthbearer):
#   * PLAIN/LOGIN -> passdb static: any user name, the password above.
#   * XOAUTH2/OAUTHBEARER -> passdb oauth2 with LOCAL JWT validation.
#     Choice: Dovecot 2.3.19 (Debian 12) validates JWTs itself when
#     `local_validation_key_dict` is set (introspection_mode = local). That needs no
#     HTTP server, no network and no extra process, so tests only have to mint a
#     token. (The alternative, introspection_url/tokeninfo_url, would need a token
#     server the test keeps running while Dovecot runs.)
#     A valid token: a JWS compact token, header {"alg":"HS256","typ":"JWT"} (typ is
#     REQUIRED by 2.3.19; kid absent or "default"), signed with HMAC-SHA256 using the
#     raw bytes of base64-decoded <dir>/oauth2/hs256.key; claims: `sub` (required),
#     `exp` (required, future, unix seconds), `email` = the IMAP user name (the
#     username attribute), optional `iat`/`nbf` (not in the future), `iss` (checked
#     only when DOVECOT_OAUTH_ISSUERS is set), `aud` (not checked by 2.3.19), `azp`
#     (absent, "default", or one of DOVECOT_OAUTH_AZP). A wrong key, an expired token
#     or an email that is not the user logging in is refused. `exp`/`iat`/`nbf` must
#     be integers. A refused XOAUTH2 gets a `+ <base64 JSON error>` continuation
#     first; the client answers with an empty line and then gets the tagged NO.
#
# Notes: user names are lowercased (auth_username_format default %Lu), so mail of
# Alice@corp.example lands in mail/alice@corp.example. The auth penalty (up to 15 s
# delay per failed login from 127.0.0.1) is disabled. `stop` also SIGTERMs the
# imap/imap-login processes (the master leaves idle sessions alive); clients get
# "* BYE Server shutting down." at once.
set -euo pipefail

readonly HOST=127.0.0.1

log() { printf 'dovecot.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

usage() {
	sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

# ---------------------------------------------------------------- install

find_dovecot() {
	if command -v dovecot >/dev/null 2>&1; then
		command -v dovecot
	elif [[ -x /usr/sbin/dovecot ]]; then
		echo /usr/sbin/dovecot
	else
		return 1
	fi
}

# The Debian package enables and (where the init system allows it) starts a
# system-wide Dovecot on ports 143/993. We never use it; stop and disable it,
# but only right after we installed the package ourselves.
disable_system_service() {
	if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null 2>&1; then
		systemctl disable --now dovecot.socket dovecot.service >/dev/null 2>&1 || true
	else
		local pid
		if [[ -r /run/dovecot/master.pid ]]; then
			pid=$(cat /run/dovecot/master.pid 2>/dev/null || true)
			if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
				log "stopping the system dovecot service the package started (pid $pid)"
				/etc/init.d/dovecot stop >/dev/null 2>&1 || kill -TERM "$pid" 2>/dev/null || true
			fi
		fi
		if command -v update-rc.d >/dev/null 2>&1; then
			update-rc.d dovecot disable >/dev/null 2>&1 || true
		fi
	fi
}

ensure_installed() {
	if DOVECOT_BIN=$(find_dovecot); then
		return
	fi
	[[ $EUID -eq 0 ]] || die "dovecot is not installed and installing it needs root"
	command -v apt-get >/dev/null 2>&1 || die "dovecot is not installed and apt-get is not available"
	log "installing dovecot-imapd with apt-get"
	export DEBIAN_FRONTEND=noninteractive
	local apt_opts=(-y -qq -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold --no-install-recommends)
	# `apt-get update` only when the package index does not know the package
	# (fresh containers ship without lists) or the cached index is stale.
	if ! apt-cache show dovecot-imapd >/dev/null 2>&1 ||
		! apt-get install "${apt_opts[@]}" dovecot-imapd </dev/null >/dev/null; then
		apt-get update -qq </dev/null >/dev/null || die "apt-get update failed"
		apt-get install "${apt_opts[@]}" dovecot-imapd </dev/null >/dev/null ||
			die "apt-get install dovecot-imapd failed"
	fi
	disable_system_service
	DOVECOT_BIN=$(find_dovecot) || die "dovecot still not found after installing dovecot-imapd"
}

# ---------------------------------------------------------------- helpers

# Prints the first line the server sends on <port>; fails if nothing listens.
# shellcheck disable=SC2016 # $0/$1 expand in the child shell
greeting() {
	local line
	line=$(timeout 3 bash -c 'exec 3<>"/dev/tcp/$0/$1" && IFS= read -r -t 2 line <&3 && printf "%s\n" "$line"' \
		"$HOST" "$1" 2>/dev/null) || return 1
	printf '%s\n' "${line%$'\r'}"
}

answers_ok() {
	local line
	line=$(greeting "$1") && [[ $line == "* OK"* ]]
}

# shellcheck disable=SC2016 # $0/$1 expand in the child shell
port_in_use() {
	timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$HOST" "$1" 2>/dev/null
}

# A free port below the kernel's ephemeral range, so that a restart cannot
# find "our" port taken by some client connection's local port meanwhile.
pick_port() {
	local lo=32768 port _
	read -r lo _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
	((lo > 11000)) || lo=61000
	for _ in $(seq 1 200); do
		port=$((10000 + (RANDOM * 32768 + RANDOM) % (lo - 10000)))
		port_in_use "$port" && continue
		if command -v python3 >/dev/null 2>&1; then
			python3 -c 'import socket,sys; s=socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1])))' \
				"$port" 2>/dev/null || continue
		fi
		echo "$port"
		return
	done
	die "could not find a free port"
}

random_b64() { head -c "$1" /dev/urandom | base64 -w0; }
random_hex() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; }

# pid of this instance's master process, if it runs.
master_pid() {
	local pidfile="$RUN_DIR/master.pid" pid
	[[ -r $pidfile ]] || return 1
	pid=$(cat "$pidfile" 2>/dev/null) || return 1
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	kill -0 "$pid" 2>/dev/null || return 1
	# Make sure the pid was not recycled: it must be dovecot with our config.
	tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "-c $CONF" || return 1
	echo "$pid"
}

descendants() {
	local child
	for child in $(ps -o pid= --ppid "$1" 2>/dev/null); do
		echo "$child"
		descendants "$child"
	done
}

log_tail() {
	if [[ -f $LOG ]]; then
		log "last lines of $LOG:"
		tail -n 30 "$LOG" >&2
	fi
}

# ---------------------------------------------------------------- paths

set_paths() {
	local raw=$1 create=$2
	if [[ ! -d $raw ]]; then
		[[ $create == yes ]] || exit "$3"
		mkdir -p "$raw"
	fi
	DIR=$(cd "$raw" && pwd -P)
	# Values go into Dovecot settings and space-separated passdb/userdb args.
	[[ $DIR =~ ^[A-Za-z0-9._/+-]+$ ]] ||
		die "directory '$DIR' must match [A-Za-z0-9._/+-] (no spaces or % in Dovecot settings)"
	CONF=$DIR/dovecot.conf
	RUN_DIR=$DIR/run
	STATE_DIR=$DIR/state
	MAIL_DIR=$DIR/mail
	OAUTH_DIR=$DIR/oauth2
	LOG=$DIR/dovecot.log
	# Unix socket paths are limited to 108 bytes; the longest Dovecot uses is
	# about 30 bytes below base_dir.
	((${#RUN_DIR} <= 75)) || die "directory '$DIR' is too long for Unix socket paths under it"
}

# ---------------------------------------------------------------- config

prepare() {
	[[ $EUID -eq 0 ]] || die "must run as root (Dovecot switches to the dovecot/dovenull users)"
	ensure_installed
	id dovecot >/dev/null 2>&1 || die "user 'dovecot' is missing"
	id dovenull >/dev/null 2>&1 || die "user 'dovenull' is missing"

	# dovecot/dovenull must traverse <dir> to reach sockets and mail, not list it.
	chmod 0711 "$DIR"
	local d=$DIR
	while [[ $d != / ]]; do
		d=$(dirname "$d")
		if [[ $(stat -c %A "$d") != ?????????x* && $(stat -c %A "$d") != ?????????t* ]]; then
			die "'$d' is not traversable by other users; the dovecot user cannot reach $DIR"
		fi
	done
	# base_dir only holds sockets and master.pid of a running instance; stale
	# sockets (e.g. anvil-auth-penalty) would otherwise outlive a config change.
	rm -rf "$RUN_DIR"
	mkdir -p "$RUN_DIR" "$STATE_DIR" "$MAIL_DIR" "$OAUTH_DIR"
	chown dovecot:dovecot "$MAIL_DIR"
	chmod 0750 "$MAIL_DIR"

	# Password: env, else the existing file, else random. Never printed.
	local pw
	if [[ -n ${DOVECOT_PASSWORD:-} ]]; then
		pw=$DOVECOT_PASSWORD
	elif [[ -s $DIR/password ]]; then
		pw=$(cat "$DIR/password")
	else
		pw=$(random_hex 18)
	fi
	[[ $pw =~ ^[^[:space:]%\"\\]+$ ]] || die "DOVECOT_PASSWORD must not contain whitespace, %, \" or \\"
	(umask 077 && printf '%s' "$pw" >"$DIR/password")
	chmod 0600 "$DIR/password"

	# Port: env, else the one used before (restart keeps it), else a free one.
	local port
	if [[ -n ${DOVECOT_PORT:-} ]]; then
		port=$DOVECOT_PORT
	elif [[ -s $DIR/port ]]; then
		port=$(cat "$DIR/port")
	else
		port=$(pick_port)
	fi
	if ! [[ $port =~ ^[0-9]+$ ]] || ((port < 1 || port > 65535)); then
		die "bad port '$port'"
	fi
	printf '%s\n' "$port" >"$DIR/port"
	PORT=$port

	# OAuth 2.0: HS256 key, kept across restarts. Dovecot's auth process (user
	# dovecot) reads the key dict, so the directory is root:dovecot 0750.
	if [[ ! -s $OAUTH_DIR/hs256.key ]]; then
		(umask 077 && random_b64 32 >"$OAUTH_DIR/hs256.key")
	fi
	local key azp
	key=$(tr -d '\n' <"$OAUTH_DIR/hs256.key")
	rm -rf "$OAUTH_DIR/keys"
	for azp in default ${DOVECOT_OAUTH_AZP:-}; do
		[[ $azp =~ ^[A-Za-z0-9._-]+$ ]] || die "bad DOVECOT_OAUTH_AZP value '$azp'"
		mkdir -p "$OAUTH_DIR/keys/$azp/HS256"
		printf '%s' "$key" >"$OAUTH_DIR/keys/$azp/HS256/default"
	done
	local username_attribute=${DOVECOT_OAUTH_USERNAME_ATTRIBUTE:-email}
	[[ $username_attribute =~ ^[A-Za-z0-9_.-]+$ ]] || die "bad DOVECOT_OAUTH_USERNAME_ATTRIBUTE"
	local debug=no
	[[ ${DOVECOT_DEBUG:-0} == 1 ]] && debug=yes

	cat >"$OAUTH_DIR/dovecot-oauth2.conf.ext" <<EOF
# Generated by infra/dovecot.sh: JWTs are validated locally (no HTTP).
# Key lookup: $OAUTH_DIR/keys/<azp or "default">/<alg>/<kid or "default">, base64.
local_validation_key_dict = fs:posix:prefix=$OAUTH_DIR/keys/
introspection_mode = local
username_attribute = $username_attribute
issuers = ${DOVECOT_OAUTH_ISSUERS:-}
debug = $debug
EOF
	chown -R root:dovecot "$OAUTH_DIR"
	chmod -R u=rwX,g=rX,o= "$OAUTH_DIR"
	chmod 0600 "$OAUTH_DIR/hs256.key"

	local dovecot_uid
	dovecot_uid=$(id -u dovecot)
	(umask 077 && cat >"$CONF" <<EOF
# Generated by infra/dovecot.sh for tests. Throwaway; do not edit.
base_dir = $RUN_DIR
state_dir = $STATE_DIR
log_path = $LOG
instance_name = dovecot-test-$PORT
protocols = imap
listen = $HOST
ssl = no
disable_plaintext_auth = no
default_login_user = dovenull
default_internal_user = dovecot
first_valid_uid = $dovecot_uid
mail_location = maildir:$MAIL_DIR/%u
mail_fsync = ${DOVECOT_FSYNC:-optimized}
mail_uid = dovecot
mail_gid = dovecot
auth_mechanisms = plain login xoauth2 oauthbearer
auth_username_chars =
auth_verbose = yes
auth_debug = $debug
auth_failure_delay = 0
login_greeting = Dovecot test server ready.
shutdown_clients = yes

passdb {
  driver = static
  mechanisms = plain login
  args = password=$pw
}
passdb {
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = $OAUTH_DIR/dovecot-oauth2.conf.ext
}
userdb {
  driver = static
  args = uid=dovecot gid=dovecot home=$MAIL_DIR/%u allow_all_users=yes
}

# No auth penalty: without the anvil-auth-penalty socket, failed logins from
# 127.0.0.1 are not delayed up to 15 s (tests log in wrongly on purpose).
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}

service imap-login {
  inet_listener imap {
    address = $HOST
    port = $PORT
  }
  inet_listener imaps {
    port = 0
  }
}
EOF
	)
}

# ---------------------------------------------------------------- commands

cmd_status() {
	local port
	[[ -s $DIR/port ]] || return 1
	port=$(cat "$DIR/port")
	master_pid >/dev/null || return 1
	answers_ok "$port" || return 1
	echo "$HOST:$port"
}

cmd_start() {
	if cmd_status >/dev/null; then
		cmd_status
		return
	fi
	# A half-dead instance (master alive, port silent): clean it up first.
	cmd_stop >/dev/null
	prepare
	if port_in_use "$PORT"; then
		die "port $PORT on $HOST is already in use by another process"
	fi
	local log_offset=0
	[[ -f $LOG ]] && log_offset=$(stat -c %s "$LOG")
	"$DOVECOT_BIN" -c "$CONF" </dev/null >>"$LOG" 2>&1 || { log_tail; die "dovecot failed to start"; }
	local timeout=${DOVECOT_START_TIMEOUT:-20} deadline
	deadline=$((SECONDS + timeout))
	until answers_ok "$PORT"; do
		if ((SECONDS >= deadline)) || tail -c +$((log_offset + 1)) "$LOG" 2>/dev/null | grep -q 'Fatal:'; then
			log_tail
			cmd_stop >/dev/null 2>&1 || true
			die "no '* OK' greeting on $HOST:$PORT (waited up to ${timeout}s; see $LOG)"
		fi
		sleep 0.2
	done
	echo "$HOST:$PORT"
}

cmd_stop() {
	local pid port="" procs=() p deadline
	[[ -s $DIR/port ]] && port=$(cat "$DIR/port")
	if pid=$(master_pid); then
		mapfile -t procs < <(descendants "$pid")
		kill -TERM "$pid" 2>/dev/null || true
		# The master does not signal client processes (imap, imap-login) on
		# shutdown: an idle session would live on until its client speaks.
		# SIGTERM makes them send "* BYE Server shutting down." and exit now.
		for p in "${procs[@]}"; do
			if [[ $(ps -o args= -p "$p" 2>/dev/null) == */imap* ]]; then
				kill -TERM "$p" 2>/dev/null || true
			fi
		done
		procs+=("$pid")
		deadline=$((SECONDS + 10))
		for p in "${procs[@]}"; do
			while kill -0 "$p" 2>/dev/null && ((SECONDS < deadline)); do
				sleep 0.1
			done
		done
		for p in "${procs[@]}"; do
			if kill -0 "$p" 2>/dev/null; then
				log "process $p did not exit on SIGTERM; killing it"
				kill -KILL "$p" 2>/dev/null || true
			fi
		done
	fi
	rm -f "$RUN_DIR/master.pid"
	if [[ -n $port ]]; then
		deadline=$((SECONDS + 10))
		while answers_ok "$port"; do
			((SECONDS < deadline)) || die "port $port still answers after stopping"
			sleep 0.1
		done
	fi
}

cmd_restart() {
	cmd_stop
	cmd_start
}

cmd_selftest() {
	command -v python3 >/dev/null 2>&1 || die "selftest needs python3"
	[[ ! -e $MAIL_DIR/alice@corp.example ]] || die "selftest needs a fresh directory ($MAIL_DIR/alice@corp.example exists)"
	local addr
	addr=$(cmd_start)
	log "started on $addr"
	python3 "$SCRIPT_DIR/dovecot/selftest.py" "$DIR" before-restart
	local addr2
	addr2=$(cmd_restart)
	[[ $addr2 == "$addr" ]] || die "restart changed the address: $addr -> $addr2"
	log "restarted on $addr2"
	python3 "$SCRIPT_DIR/dovecot/selftest.py" "$DIR" after-restart
	cmd_stop
	if cmd_status >/dev/null; then
		die "still running after stop"
	fi
	if answers_ok "$(cat "$DIR/port")"; then
		die "port still answers after stop"
	fi
	log "selftest passed"
}

main() {
	if [[ ${1:-} == install ]]; then
		ensure_installed
		return
	fi
	(($# == 2)) || usage
	SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
	DOVECOT_BIN=""
	case $1 in
	start | restart | selftest) set_paths "$2" yes ;;
	stop) set_paths "$2" no 0 ;;   # nothing to stop
	status) set_paths "$2" no 1 ;; # not running
	*) usage ;;
	esac
	case $1 in
	start) cmd_start ;;
	stop) cmd_stop ;;
	restart) cmd_restart ;;
	status) cmd_status ;;
	selftest) cmd_selftest ;;
	*) usage ;;
	esac
}

main "$@"
