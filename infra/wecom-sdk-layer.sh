#!/usr/bin/env bash
# Builds the Lambda layer of WeCom's Session Content Archive SDK from the
# vendor's download, which is not redistributed (see the README, "Collecting
# WeCom"): checks the download's SHA-256 against the one given, then lays the
# library out as lib/libWeWorkFinanceSdk_C.so (on the loader's path in
# Lambda, /opt/lib) in wecom-sdk-layer.zip.
#
#   infra/wecom-sdk-layer.sh <sdk.zip or .tgz from the vendor> <sha256> [out.zip]
set -euo pipefail

if [[ $# -lt 2 ]]; then
  echo "usage: $0 <sdk archive> <expected sha256> [layer.zip]" >&2
  exit 2
fi
archive=$1 expected=$2 out=${3:-wecom-sdk-layer.zip}

actual=$(sha256sum "$archive" | cut -d' ' -f1)
if [[ "$actual" != "${expected,,}" ]]; then
  echo "$archive: SHA-256 $actual is not the expected $expected; refusing it" >&2
  exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
case "$archive" in
  *.zip) unzip -q "$archive" -d "$work/sdk" ;;
  *.tgz|*.tar.gz) mkdir -p "$work/sdk" && tar -xzf "$archive" -C "$work/sdk" ;;
  *) echo "$archive: expected a .zip or .tgz" >&2; exit 2 ;;
esac
library=$(find "$work/sdk" -name libWeWorkFinanceSdk_C.so -type f | head -n 1)
if [[ -z "$library" ]]; then
  echo "$archive: no libWeWorkFinanceSdk_C.so inside" >&2
  exit 1
fi
# The functions run on arm64 (template.yaml, Globals): a library for
# another machine would only fail at load time in Lambda. WECOM_SDK_MACHINE
# names another machine as readelf spells it (e.g. "Advanced Micro Devices
# X86-64") for a template changed to match.
machine=$(readelf -h "$library" | sed -n 's/^ *Machine: *//p')
want=${WECOM_SDK_MACHINE:-AArch64}
if [[ "$machine" != "$want" ]]; then
  echo "$library: built for $machine, but the functions run on $want; refusing it" >&2
  exit 1
fi
mkdir -p "$work/layer/lib"
cp "$library" "$work/layer/lib/"
# The 17 exports the archiver binds (a new SDK version that renamed one
# would fail at load time; better here).
for symbol in NewSdk Init GetChatData DecryptData GetMediaData DestroySdk NewSlice \
  FreeSlice GetContentFromSlice GetSliceLen NewMediaData FreeMediaData GetOutIndexBuf \
  GetData GetIndexLen GetDataLen IsMediaDataFinish; do
  if ! nm -D --defined-only "$work/layer/lib/libWeWorkFinanceSdk_C.so" | grep -qw "$symbol"; then
    echo "$library: no export $symbol" >&2
    exit 1
  fi
done
(cd "$work/layer" && zip -qr - lib) > "$out"
echo "$out: lib/libWeWorkFinanceSdk_C.so from $archive (SHA-256 $actual)"
