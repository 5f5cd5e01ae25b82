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
cargo test --workspace --locked
