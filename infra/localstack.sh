#!/usr/bin/env bash
# LocalStack in host mode (no container) and the serverless tool chain, for
# the end-to-end test and for local work.
#
#   infra/localstack.sh install        install LocalStack and the tools if missing (idempotent)
#   infra/localstack.sh start  <dir>   install if needed, start LocalStack with its state in <dir>,
#                                      wait until healthy, print its endpoint
#   infra/localstack.sh stop   <dir>   stop that instance (idempotent)
#   infra/localstack.sh env            print `export PATH=...` for the installed tools
#
# Pins: localstack-core 4.13.1 is the newest
# release that runs on Python 3.11 without an account token; the extra pins are
# what it needs to start. aws-sam-translator lets LocalStack's CloudFormation
# expand the SAM transform, so template.yaml itself is deployed to it.
# The tool venv (cargo-lambda, Zig for --arm64, SAM CLI, cfn-lint) is separate,
# so the two sets of pins never fight. infra/localstack/uuid5_bytes.py gives
# Python 3.11 the uuid5(bytes) that LocalStack's KMS expects (3.12 has it).
#
# Everything is installed under $MA_TOOLS (default ~/.cache/mobile-archiver/tools),
# outside the clone; a new machine gets it on first use.
#
# Environment (start): LOCALSTACK_PORT (default: a free port).
set -euo pipefail

tools=${MA_TOOLS:-${HOME:-/root}/.cache/mobile-archiver/tools}
ls_venv=$tools/localstack-4.13.1
tool_venv=$tools/serverless-1
python=${PYTHON:-python3}

log() { printf 'localstack.sh: %s\n' "$*" >&2; }

install_localstack() {
	[[ -x $ls_venv/bin/python && -f $ls_venv/.complete ]] && return 0
	log "installing LocalStack 4.13.1 into $ls_venv"
	rm -rf "$ls_venv"
	"$python" -m venv "$ls_venv"
	"$ls_venv/bin/pip" install --quiet --disable-pip-version-check \
		'localstack-core[runtime]==4.13.1' 'cbor2<5.7' cryptography==43.0.3 \
		pyopenssl==24.2.1 'service_identity<24.3' 'aws-sam-translator==1.115.0' 2>&1 |
		grep -v -e 'joserfc' -e "pip's dependency resolver" >&2 || true
	local site
	site=$("$ls_venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
	cp "$(dirname "$0")/localstack/uuid5_bytes.py" "$site/"
	echo 'import uuid5_bytes' >"$site/uuid5_bytes.pth"
	"$ls_venv/bin/python" -c 'import localstack, samtranslator' ||
		{ log "LocalStack install failed"; exit 1; }
	touch "$ls_venv/.complete"
}

install_tools() {
	[[ -x $tool_venv/bin/cargo-lambda && -f $tool_venv/.complete ]] && return 0
	log "installing cargo-lambda, zig, SAM CLI and cfn-lint into $tool_venv"
	rm -rf "$tool_venv"
	"$python" -m venv "$tool_venv"
	"$tool_venv/bin/pip" install --quiet --disable-pip-version-check \
		cargo-lambda==1.9.2 'ziglang==0.13.0' 'aws-sam-cli==1.170.0' 'cfn-lint==1.58.0' >&2
	"$tool_venv/bin/cargo-lambda" lambda --version >&2 ||
		{ log "cargo-lambda install failed"; exit 1; }
	touch "$tool_venv/.complete"
}

free_port() {
	"$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

start() {
	local dir=$1
	install_localstack
	mkdir -p "$dir/volume"
	dir=$(cd "$dir" && pwd)
	if [[ -f $dir/port ]] && curl -fsS "http://127.0.0.1:$(cat "$dir/port")/_localstack/health" >/dev/null 2>&1; then
		echo "http://127.0.0.1:$(cat "$dir/port")"
		return 0
	fi
	local port=${LOCALSTACK_PORT:-$(free_port)}
	echo "$port" >"$dir/port"
	(
		cd "$dir"
		GATEWAY_LISTEN=127.0.0.1:$port \
			SERVICES=s3,sqs,sns,events,scheduler,secretsmanager,iam,sts,logs,cloudformation,kms,cloudwatch \
			LOCALSTACK_VOLUME_DIR=$dir/volume \
			SKIP_SSL_CERT_DOWNLOAD=1 DISABLE_EVENTS=1 PROVIDER_OVERRIDE_CLOUDFORMATION=engine-legacy SQS_ENDPOINT_STRATEGY=path LOCALSTACK_HOST=127.0.0.1:$port \
			setsid "$ls_venv/bin/python" -m localstack.runtime.main >"$dir/localstack.log" 2>&1 &
		echo $! >"$dir/pid"
	)
	local deadline=$((SECONDS + ${LOCALSTACK_START_TIMEOUT:-120}))
	until curl -fsS "http://127.0.0.1:$port/_localstack/health" >/dev/null 2>&1; do
		if ((SECONDS > deadline)) || ! kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
			log "LocalStack did not start; last lines of $dir/localstack.log:"
			tail -n 30 "$dir/localstack.log" >&2 || true
			exit 1
		fi
		sleep 0.5
	done
	echo "http://127.0.0.1:$port"
}

stop() {
	local dir=$1
	[[ -f $dir/pid ]] || return 0
	local pid
	pid=$(cat "$dir/pid")
	kill -- -"$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true
	for _ in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.2
	done
	kill -9 -- -"$pid" 2>/dev/null || true
	rm -f "$dir/pid"
}

case ${1:-} in
install)
	install_localstack
	install_tools
	;;
start) start "${2:?usage: $0 start <dir>}" ;;
stop) stop "${2:?usage: $0 stop <dir>}" ;;
env)
	install_tools
	echo "export PATH=$tool_venv/bin:\$PATH"
	;;
*)
	sed -n '2,20p' "$0" >&2
	exit 2
	;;
esac
