#!/usr/bin/env bash
# Delivery benchmark: 10,000 text messages over 10 mailboxes into a local
# Dovecot (started and stopped here), with the ledger, exactly once.
#   infra/bench-delivery.sh [messages] [mailboxes]
set -euo pipefail
cd "$(dirname "$0")/.."
messages=${1:-10000}
mailboxes=${2:-10}
work=$(mktemp -d /tmp/ma-bench-XXXXXX)
chmod 711 "$work"
trap 'infra/dovecot.sh stop "$work/dovecot" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
mkdir -p "$work/dovecot" "$work/secrets"
address=$(infra/dovecot.sh start "$work/dovecot")
install -m 600 "$work/dovecot/password" "$work/secrets/imap-password"
cat > "$work/bench.toml" <<TOML
time_zone = "Europe/London"
default_region = "GB"
[store]
path = "store"
[drops]
path = "drops"
[secrets]
path = "secrets"
[mapping]
[imap]
url = "imap://$address"
auth = "password"
connections = 10
password_secret = "imap-password"
TOML
cargo run --quiet --release -p archiver -- bench-delivery --config "$work/bench.toml" \
	--messages "$messages" --mailboxes "$mailboxes"
