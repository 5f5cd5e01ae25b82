#!/usr/bin/env bash
# Runs every fuzz target of the shared crate (shared/fuzz) for a bounded
# time: `infra/fuzz.sh [seconds per target]` (default 60; the test command
# uses it). The long run is the same with more seconds, e.g.
# `infra/fuzz.sh 3600`, or one target: `cd shared && cargo +nightly fuzz run
# export_chat`. Needs the nightly toolchain (libFuzzer and the address
# sanitizer); without it the script fails loudly rather than skipping.
# Installs cargo-fuzz 0.13.2 once into $MA_TOOLS (default
# ~/.cache/mobile-archiver/tools, outside the clone). Crashes are kept in
# shared/fuzz/artifacts/<target>/ and fail the script; the corpus grows in
# $MA_TOOLS/fuzz-corpus (outside the clone), seeded from the test fixtures.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
tools=${MA_TOOLS:-${HOME:-/root}/.cache/mobile-archiver/tools}
root=$tools/cargo-fuzz-0.13.2
if ! rustup toolchain list | grep -q '^nightly'; then
	echo "fuzz.sh: FUZZING NOT RUN: no nightly toolchain on this machine (rustup toolchain install nightly)" >&2
	exit 1
fi
if [[ ! -x $root/bin/cargo-fuzz ]]; then
	echo "fuzz.sh: installing cargo-fuzz 0.13.2 into $root" >&2
	CARGO_TARGET_DIR=$tools/cargo-fuzz-build cargo install --quiet --locked \
		cargo-fuzz --version 0.13.2 --root "$root"
	rm -rf "$tools/cargo-fuzz-build"
fi
export PATH=$root/bin:$PATH
# The fuzz build has its own target directory (sanitizer flags differ).
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-${HOME:-/root}/.cache/mobile-archiver/target}-fuzz
corpus=$tools/fuzz-corpus
seed() {
	local target=$1
	shift
	mkdir -p "$corpus/$target"
	for file in "$@"; do
		[[ -f $file ]] && cp -n "$file" "$corpus/$target/" 2>/dev/null || true
	done
}
seed export_chat shared/tests/fixtures/whatsapp/*.txt examples/drop/whatsapp-export/*/*.txt
seed mapping_csv examples/mapping.csv
seed webhook_body shared/tests/fixtures/whatsapp_cloud/*.json
seed wecom_message tests/fixtures/wecom/messages/*
cd shared
cargo +nightly fuzz build --fuzz-dir fuzz
for target in export_chat mapping_csv webhook_body wecom_message; do
	echo "fuzz.sh: $target for ${seconds} s" >&2
	cargo +nightly fuzz run --fuzz-dir fuzz "$target" "$corpus/$target" -- \
		-max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 -print_final_stats=1 \
		2>&1 | grep -E '^(stat::|==|SUMMARY|Done|INFO: -max_total_time|thread|.*panicked)' || true
	# libFuzzer stops at the first crash and leaves it in artifacts/.
	if compgen -G "fuzz/artifacts/$target/*" > /dev/null; then
		echo "fuzz.sh: $target FOUND A CRASH: shared/fuzz/artifacts/$target/" >&2
		exit 1
	fi
done
