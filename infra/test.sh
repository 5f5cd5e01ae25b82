#!/usr/bin/env bash
# The project's test command (README: "Run the tests").
# Installs what the tests need (Dovecot, Postfix and postgrey, LocalStack, cargo-lambda, SAM CLI,
# cfn-lint, cargo-deny), checks formatting, lints, dependency licences and
# sources, and the SAM template, then runs every
# test of the workspace (unit, integration, Dovecot, crash, serverless end to
# end) and every fuzz target for a minute (infra/fuzz.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
# The IMAP tests run a real Dovecot; install it once here, not from
# parallel tests racing for the package manager.
infra/dovecot.sh install
# The SMTP tests run a real Postfix (each test its own instance), some with
# a real postgrey greylisting for it.
infra/postfix.sh install
infra/localstack.sh install
eval "$(infra/localstack.sh env)"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# Every dependency's licence, source and bans (deny.toml); advisories when
# the RustSec database can be fetched.
infra/deny.sh
# No module of the library imports one that imports it back.
python3 infra/module-cycles.py shared/src
cfn-lint template.yaml
SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=us-east-1 sam validate --lint
# The functions as `cargo lambda watch` runs them (each built alone, with its
# own feature set), so the serverless test does not wait for a build.
for function in collect convert deliver capture media reconcile; do
	cargo build --locked -p "$function"
done
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
# Every fuzz target for a bounded time (infra/fuzz.sh; the long run is the
# same script with more seconds).
if [[ $status -eq 0 ]]; then
	infra/fuzz.sh "${MA_FUZZ_SECONDS:-60}" || status=$?
fi
exit "$status"
