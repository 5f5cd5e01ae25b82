#!/usr/bin/env bash
# Renders the daily report of the example run with headless Chromium, so
# its layout can be checked by eye: `infra/screenshot-report.sh [out.png]`
# (default report.png in the current directory; the PNG is not committed).
# Installs Debian's chromium when it is missing (as root, with apt-get).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
out="$(realpath -m "${1:-report.png}")"
if ! command -v chromium >/dev/null; then
	echo "screenshot-report.sh: installing chromium with apt-get" >&2
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
cargo build --quiet --release -p archiver --manifest-path "$repo/Cargo.toml"
archiver="${CARGO_TARGET_DIR:-$repo/target}/release/archiver"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp -r "$repo/examples" "$work/examples"
printf '\n[report]\nmailbox = "compliance@corp.example"\n' >>"$work/examples/archiver.toml"
day="$(date -u +%F)"
"$archiver" run --config "$work/examples/archiver.toml" --day "$day" >/dev/null
"$archiver" report --config "$work/examples/archiver.toml" --day "$day" >/dev/null
html="$(find "$work/example-output/archive/reports/$day" -name '*.html' | sort | tail -1)"
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
	--window-size=1000,1400 --screenshot="$out" "file://$html" 2>/dev/null
echo "screenshot-report.sh: $out"
