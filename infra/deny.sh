#!/usr/bin/env bash
# Checks every dependency's licence, source and bans with cargo-deny
# (deny.toml), and its security advisories when the RustSec database can
# be fetched. Installs cargo-deny 0.20.2 once into $MA_TOOLS (default
# ~/.cache/mobile-archiver/tools, outside the clone).
set -euo pipefail
cd "$(dirname "$0")/.."
tools=${MA_TOOLS:-${HOME:-/root}/.cache/mobile-archiver/tools}
root=$tools/cargo-deny-0.20.2
deny=$root/bin/cargo-deny
if [[ ! -x $deny ]]; then
	echo "deny.sh: installing cargo-deny 0.20.2 into $root" >&2
	CARGO_TARGET_DIR=$tools/cargo-deny-build cargo install --quiet --locked \
		cargo-deny --version 0.20.2 --root "$root"
	rm -rf "$tools/cargo-deny-build"
fi
"$deny" deny --locked check licenses bans sources
if curl -fsS --max-time 10 -o /dev/null https://github.com/rustsec/advisory-db; then
	"$deny" deny --locked check advisories
else
	echo "deny.sh: ADVISORIES NOT CHECKED: github.com (the RustSec database) cannot be reached from this machine" >&2
fi
