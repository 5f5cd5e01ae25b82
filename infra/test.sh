#!/usr/bin/env bash
# The project's test command (README: "Run the tests").
# Installs what the tests need (Dovecot), checks formatting and lints, then
# runs every test of the workspace (unit, integration, Dovecot, crash).
set -euo pipefail
cd "$(dirname "$0")/.."
# The IMAP tests run a real Dovecot; install it once here, not from
# parallel tests racing for the package manager.
infra/dovecot.sh install
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
cargo test --workspace --locked 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One closing line for the whole workspace (cargo prints one per test binary).
awk '/^test result:/ {
	for (i = 2; i <= NF; i++) {
		if ($i ~ /^passed;?$/) passed += $(i - 1)
		if ($i ~ /^failed;?$/) failed += $(i - 1)
	}
} END { printf "%d passed, %d failed\n", passed, failed }' "$log"
exit "$status"
