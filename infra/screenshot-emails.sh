#!/usr/bin/env bash
# Renders one e-mail of each kind from the example run (text, multi-line
# text, image, document, omitted media, deleted, edited, call, system
# line) with headless Chromium, so the HTML body's layout can be
# checked by eye: `infra/screenshot-emails.sh <output directory>` writes
# <kind>.png and the <kind>.html it was taken of (images referenced by
# `cid:` inlined as data: URIs, as a mail client resolves them). The PNGs
# are not committed. PROFILE=dev builds without optimisation (quicker);
# CARGO_TARGET_DIR is honoured. Installs Debian's chromium when it is
# missing (as root, with apt-get).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
out="$(realpath -m "${1:?usage: infra/screenshot-emails.sh <output directory>}")"
profile="${PROFILE:-release}"
if ! command -v chromium >/dev/null; then
	echo "screenshot-emails.sh: installing chromium with apt-get" >&2
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
cargo build --quiet --profile "$profile" -p archiver --manifest-path "$repo/Cargo.toml"
dir="$profile"
[ "$profile" = dev ] && dir=debug
archiver="${CARGO_TARGET_DIR:-$repo/target}/$dir/archiver"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp -r "$repo/examples" "$work/examples"
"$archiver" run --config "$work/examples/archiver.toml" --day 2026-11-21 >/dev/null
mkdir -p "$out"
# One message per kind, the first by Message-ID, its HTML part written
# with every cid: reference resolved.
python3 - "$work/example-output/maildir" "$out" <<'PY'
import base64, email, email.policy, pathlib, sys

maildir, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
messages = {}
for path in maildir.glob("*/*/cur/*"):
    msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    messages.setdefault(msg["Message-ID"], msg)

def kinds(msg):
    kind = msg["X-Archiver-Kind"]
    html = msg.get_body(("html",)).get_content()
    files = [p for p in msg.walk() if p.get_filename()]
    shown = [p for p in files if p["Content-ID"]]
    if kind == "delete" or "DELETED" in html:
        yield "deleted"
    if kind == "edit" or msg["X-Archiver-Edited"]:
        yield "edited"
    if kind in ("call", "system"):
        yield kind
    if shown:
        yield "image"
    if any(not p["Content-ID"] for p in files):
        yield "document"
    if "omitted by" in html:
        yield "omitted"
    text = msg.get_body(("plain",)).get_content().replace("\r\n", "\n").split("\n\n", 1)
    if kind == "message" and not files and len(text) == 2:
        body = text[1].strip()
        yield "multiline" if "\n" in body else "text"

chosen = {}
for mid in sorted(messages):
    for kind in kinds(messages[mid]):
        chosen.setdefault(kind, messages[mid])
for kind, msg in sorted(chosen.items()):
    html = msg.get_body(("html",)).get_content()
    for part in msg.walk():
        cid = part["Content-ID"]
        if cid:
            data = base64.b64encode(part.get_content()).decode()
            uri = f"data:{part.get_content_type()};base64,{data}"
            html = html.replace(f"cid:{cid.strip('<>')}", uri)
    (out / f"{kind}.html").write_text(html, encoding="utf-8")
    print(kind)
PY
for html in "$out"/*.html; do
	chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
		--window-size=720,1100 --screenshot="${html%.html}.png" "file://$html" 2>/dev/null
done
echo "screenshot-emails.sh: $(ls "$out"/*.png | wc -l) screenshots in $out"
