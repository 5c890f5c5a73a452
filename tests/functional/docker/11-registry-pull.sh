#!/bin/bash
# SPDX-License-Identifier: MIT
#
# 11-registry-pull: docker-run pulls a missing image. A private registry (Debian's docker-registry,
# a temporary config and storage) serves on 127.0.0.1:PORT in the engine's namespace; the test
# image is pushed there as 127.0.0.1:PORT/wh/echo-$$:1 and removed locally, then
# `wormhole create url :9000 tail url :3306 docker-run '... 127.0.0.1:PORT/wh/echo-$$:1 wh-echo
# 3306'` pulls it (the CLI prints the pull's progress lines on stderr), starts it, and the echo
# works. Nothing leaves loopback: 127.0.0.0/8 registries are plain HTTP for dockerd.
#
#   root namespace (dockerd's)                 netns wh-test-$$ ("host")
#   +------------------------------------+     +----------------------------------------------+
#   | docker-registry 127.0.0.1:PORT     |     | client --> :9000 [wormholed] --> container   |
#   | dockerd <-- pull ------------------+     |   (pulled image, wh-echo 3306)               |
#   +------------------------------------+     +----------------------------------------------+
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

dk_setup
registry=$(command -v docker-registry || true)
[[ -n $registry ]] || skip "docker-registry missing (apt-get install docker-registry)"
port=""
for ((i = 0; i < 50; i++)); do
	p=$((15000 + RANDOM % 1000))
	if [[ -z $(ss -Htln "sport = :$p") ]]; then
		port=$p
		break
	fi
done
[[ -n $port ]] || skip "no free port for the registry"
ref="127.0.0.1:$port/wh/echo-$$:1"

mkdir -p "$wh_tmp/registry"
cat >"$wh_tmp/registry/config.yml" <<EOC
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $wh_tmp/registry/data
http:
  addr: 127.0.0.1:$port
EOC
pretty "root" "docker-registry serve $wh_tmp/registry/config.yml &"
"$registry" serve "$wh_tmp/registry/config.yml" >"$wh_tmp/registry/log" 2>&1 &
wh_pids+=("$!")
_registry_up() {
	[[ $(curl -s --max-time 2 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/v2/") == 200 ]]
}
wait_for "the registry answers on 127.0.0.1:$port" 100 _registry_up

dk_images+=("$ref")
dk tag "$IMG" "$ref"
dk push -q "$ref" >/dev/null || fail "docker push $ref failed: $(cat "$wh_tmp/registry/log")"
dk rmi "$ref" >/dev/null
docker image inspect "$ref" >/dev/null 2>&1 && fail "$ref still present locally"

wh_start_daemon main
info "create with an image only the registry has"
rc=0
wh create id pulled url :9000 tail url :3306 docker-run "--network none --init $ref wh-echo 3306" \
	>"$wh_tmp/create.out" 2>"$wh_tmp/create.err" || rc=$?
echo "stdout: $(cat "$wh_tmp/create.out")" >&2
echo "stderr:" >&2
cat "$wh_tmp/create.err" >&2
[[ $rc -eq 0 ]] || fail "create with a pull: exit $rc"
assert_eq "create output" "pulled tcp://127.0.0.1:9000" "$(cat "$wh_tmp/create.out")"
[[ -s $wh_tmp/create.err ]] || fail "the CLI showed no pull progress on stderr"
echo "ok: $(wc -l <"$wh_tmp/create.err") progress line(s) on stderr" >&2
assert_match "progress names the pull" "Pulling from wh/echo-$$" "$(cat "$wh_tmp/create.err")"
docker image inspect "$ref" >/dev/null 2>&1 || fail "$ref not present after the pull"
echo "ok: $ref pulled" >&2
cid=$(dk_mine pulled)
assert_eq "one container" 1 "$(wc -w <<<"$cid")"
assert_eq "its image" "$ref" "$(docker inspect -f '{{.Config.Image}}' "$cid")"
dk_wait_listen "$cid" 3306
tcp_echo_check "$ns_host" 127.0.0.1:9000 "echo from the pulled image"
wh delete pulled
dk_wait_none_mine 150
echo "PASS"
