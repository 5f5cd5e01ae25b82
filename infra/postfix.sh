#!/usr/bin/env bash
# A throwaway Postfix SMTP server on loopback, for tests.
#
#   infra/postfix.sh install          install postfix and postgrey if missing (once, before parallel tests)
#   infra/postfix.sh start    <dir>   install if needed, start, print 127.0.0.1:<port>
#   infra/postfix.sh stop     <dir>   stop that instance (and its postgrey; idempotent)
#   infra/postfix.sh idle     <dir>   exit 0 when its queue is empty (everything delivered)
#
# Must run as root (Postfix's master drops to the `postfix` user itself).
# Everything lives under <dir>; /etc/postfix is not used (`postfix -c`). It
# accepts mail from 127.0.0.1 for any address, without AUTH or TLS, and its
# virtual(8) delivery agent writes every recipient's mail into one Maildir,
# each message with a `Delivered-To: <recipient>` header first:
#   <dir>/mail/all/new/<file>
# (virtual(8) allows no per-address path made from the address itself.)
# If this script installs the packages and that starts their system
# services, they are stopped at once.
#
# Refusals, for tests of how a client takes them, come from Postfix itself
# (and a real greylisting server), never from a stand-in. When either list
# below is set, a recipient access map (texthash:, no postmap) is checked
# first at RCPT TO; without them the instance is exactly as described above.
#   POSTFIX_REFUSE     addresses refused for good at RCPT TO:
#                      `550 5.1.1 <addr>: Recipient address rejected: no such mailbox here`
#   POSTFIX_GREYLIST   addresses whose RCPT TO Postfix hands to a real
#                      postgrey (policy delegation, check_policy_service):
#                      `450 4.2.0 <addr>: Recipient address rejected: Greylisted, ...`
#                      until POSTFIX_GREYLIST_DELAY seconds (default 1) after
#                      the first try of the same client, sender and recipient,
#                      then accepted. postgrey runs as its own user, started
#                      and stopped with the instance.
# (Both space-separated.)
#
# Files under <dir>:
#   port                   the SMTP port (kept across restarts)
#   etc/main.cf, etc/master.cf   the generated configuration
#   queue/ data/           the queue and data directories
#   postfix.log            the server log
#   mail/                  the Maildirs
#   etc/recipient_access   the access map (POSTFIX_REFUSE, POSTFIX_GREYLIST)
#   postgrey/              postgrey's database and socket (POSTFIX_GREYLIST)
#   postgrey.log           its log (each decision: greylist or pass)
#   postgrey.pid           its process id
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
	local missing=()
	[[ -x /usr/sbin/postfix ]] || missing+=(postfix)
	[[ -x /usr/sbin/postgrey ]] || missing+=(postgrey)
	if ((${#missing[@]} == 0)); then
		return
	fi
	log "installing ${missing[*]}"
	# "No configuration": the package leaves /etc/postfix unconfigured.
	echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null ||
		{ apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null; }
	# A system instance, if the package started one, must not hold port 25;
	# nor is a system postgrey (port 10023) wanted: each instance runs its own.
	if [[ " ${missing[*]} " == *" postfix "* ]]; then
		/usr/sbin/postfix stop >/dev/null 2>&1 || true
	fi
	if [[ " ${missing[*]} " == *" postgrey "* ]]; then
		invoke-rc.d postgrey stop >/dev/null 2>&1 || true
	fi
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
	# The recipient access map, only when refusals are asked for.
	local recipient_restrictions="permit_mynetworks, reject"
	if [[ -n ${POSTFIX_REFUSE:-}${POSTFIX_GREYLIST:-} ]]; then
		recipient_restrictions="check_recipient_access texthash:$dir/etc/recipient_access, $recipient_restrictions"
		local address refused greylisted
		read -ra refused <<<"${POSTFIX_REFUSE:-}"
		read -ra greylisted <<<"${POSTFIX_GREYLIST:-}"
		: >"$dir/etc/recipient_access"
		for address in "${refused[@]}"; do
			printf '%s 550 5.1.1 no such mailbox here\n' "$address" >>"$dir/etc/recipient_access"
		done
		for address in "${greylisted[@]}"; do
			printf '%s greylist\n' "$address" >>"$dir/etc/recipient_access"
		done
	fi
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
smtpd_recipient_restrictions = $recipient_restrictions
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
	if [[ -n ${POSTFIX_GREYLIST:-} ]]; then
		# A restriction class named by the map: postgrey is asked about the
		# greylisted addresses only. Its DEFER_IF_PERMIT becomes a 450 once
		# permit_mynetworks permits.
		cat >>"$dir/etc/main.cf" <<EOF
smtpd_restriction_classes = greylist
greylist = check_policy_service unix:$dir/postgrey/socket
EOF
	fi
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

# Starts this instance's postgrey (POSTFIX_GREYLIST) in the foreground of
# a detached process, logging to <dir>/postgrey.log, and waits until its
# socket takes connections. Debian's lists of clients and recipients never
# greylisted are replaced by empty ones, and no client is ever whitelisted
# for having retried before, so every copy to a greylisted address is
# greylisted once.
start_postgrey() {
	local dir=$1
	stop_postgrey "$dir"
	mkdir -p "$dir/postgrey"
	: >"$dir/postgrey/whitelist_clients"
	: >"$dir/postgrey/whitelist_recipients"
	rm -f "$dir/postgrey/socket"
	chown postgrey:postgrey "$dir/postgrey"
	setsid /usr/sbin/postgrey --unix="$dir/postgrey/socket" --dbdir="$dir/postgrey" \
		--delay="${POSTFIX_GREYLIST_DELAY:-1}" --auto-whitelist-clients=0 \
		--whitelist-clients="$dir/postgrey/whitelist_clients" \
		--whitelist-recipients="$dir/postgrey/whitelist_recipients" \
		</dev/null >>"$dir/postgrey.log" 2>&1 &
	echo $! >"$dir/postgrey.pid"
	for _ in $(seq 1 100); do
		if python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).connect(sys.argv[1])' \
			"$dir/postgrey/socket" 2>/dev/null; then
			return
		fi
		kill -0 "$(<"$dir/postgrey.pid")" 2>/dev/null ||
			{ cat "$dir/postgrey.log" >&2; die "postgrey did not start"; }
		sleep 0.2
	done
	die "postgrey did not listen on $dir/postgrey/socket within 20 s"
}

# Stops the postgrey this script started for <dir>, by its process id.
stop_postgrey() {
	local dir=$1 pid
	[[ -s $dir/postgrey.pid ]] || return 0
	pid=$(<"$dir/postgrey.pid")
	rm -f "$dir/postgrey.pid"
	# Only if that process is still the postgrey started here.
	if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "--dbdir=$dir/postgrey"; then
		kill "$pid" 2>/dev/null || true
	fi
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
	if [[ -n ${POSTFIX_GREYLIST:-} ]]; then
		start_postgrey "$dir"
	fi
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
	dir=$(cd "$dir" && pwd)
	/usr/sbin/postfix -c "$dir/etc" stop >/dev/null 2>&1 || true
	stop_postgrey "$dir"
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
