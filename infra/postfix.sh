#!/usr/bin/env bash
# A throwaway Postfix SMTP server on loopback, for tests.
#
#   infra/postfix.sh install          install postfix if missing (once, before parallel tests)
#   infra/postfix.sh start    <dir>   install if needed, start, print 127.0.0.1:<port>
#   infra/postfix.sh stop     <dir>   stop that instance (idempotent)
#   infra/postfix.sh idle     <dir>   exit 0 when its queue is empty (everything delivered)
#
# Must run as root (Postfix's master drops to the `postfix` user itself).
# Everything lives under <dir>; /etc/postfix is not used (`postfix -c`). It
# accepts mail from 127.0.0.1 for any address, without AUTH or TLS, and its
# virtual(8) delivery agent writes every recipient's mail into one Maildir,
# each message with a `Delivered-To: <recipient>` header first:
#   <dir>/mail/all/new/<file>
# (virtual(8) allows no per-address path made from the address itself.)
# If this script installs the package and that starts the system service,
# it is stopped at once.
#
# Files under <dir>:
#   port                   the SMTP port (kept across restarts)
#   etc/main.cf, etc/master.cf   the generated configuration
#   queue/ data/           the queue and data directories
#   postfix.log            the server log
#   mail/                  the Maildirs
#
# Environment: POSTFIX_PORT  port to listen on. Default: <dir>/port, else a free port.
set -euo pipefail

readonly HOST=127.0.0.1

log() { printf 'postfix.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

usage() {
	sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

install() {
	if [[ -x /usr/sbin/postfix ]]; then
		return
	fi
	log "installing postfix"
	# "No configuration": the package leaves /etc/postfix unconfigured.
	echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q postfix >/dev/null ||
		{ apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postfix >/dev/null; }
	# A system instance, if the package started one, must not hold port 25.
	/usr/sbin/postfix stop >/dev/null 2>&1 || true
}

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

configure() {
	local dir=$1 port=$2
	mkdir -p "$dir/etc" "$dir/queue" "$dir/data" "$dir/mail"
	# The master and the delivery agent work as `postfix` and `nobody`:
	# they must reach their directories (a test's temporary directory is
	# private to root).
	chmod go+x "$dir"
	chown postfix "$dir/data"
	# virtual(8) writes as nobody.
	chown nobody:nogroup "$dir/mail"
	cat >"$dir/etc/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $dir/queue
data_directory = $dir/data
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = $HOST
inet_protocols = ipv4
myhostname = postfix.test
mydomain = postfix.test
myorigin = postfix.test
mydestination =
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
smtpd_recipient_restrictions = permit_mynetworks, reject
virtual_mailbox_domains = static:all
virtual_mailbox_base = $dir/mail
virtual_mailbox_maps = static:all/
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
virtual_mailbox_limit = 0
message_size_limit = 52428800
maillog_file = $dir/postfix.log
maillog_file_prefixes = $dir
smtputf8_enable = no
biff = no
EOF
	cat >"$dir/etc/master.cf" <<EOF
$HOST:$port inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
}

start() {
	local dir=$1
	install
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	local port=${POSTFIX_PORT:-}
	if [[ -z $port && -s $dir/port ]]; then port=$(<"$dir/port"); fi
	if [[ -z $port ]]; then port=$(free_port); fi
	echo "$port" >"$dir/port"
	configure "$dir" "$port"
	/usr/sbin/postfix -c "$dir/etc" check >/dev/null 2>&1 || /usr/sbin/postfix -c "$dir/etc" check
	/usr/sbin/postfix -c "$dir/etc" start >/dev/null 2>&1 ||
		{ cat "$dir/postfix.log" >&2 2>/dev/null; die "postfix did not start"; }
	for _ in $(seq 1 100); do
		if python3 - "$port" <<'EOF' 2>/dev/null; then
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2)
assert s.recv(512).startswith(b"220")
s.sendall(b"QUIT\r\n")
EOF
			echo "$HOST:$port"
			return
		fi
		sleep 0.2
	done
	die "postfix on port $port did not greet within 20 s"
}

stop() {
	local dir=$1
	[[ -f $dir/etc/main.cf ]] || return 0
	/usr/sbin/postfix -c "$(cd "$dir" && pwd)/etc" stop >/dev/null 2>&1 || true
}

idle() {
	local dir=$1 queued
	queued=$(find "$dir/queue/maildrop" "$dir/queue/incoming" "$dir/queue/active" \
		"$dir/queue/deferred" -type f 2>/dev/null | wc -l)
	[[ $queued == 0 ]]
}

(($# >= 1)) || usage
case $1 in
install) install ;;
start | stop | idle)
	(($# == 2)) || usage
	"$1" "$2"
	;;
*) usage ;;
esac
