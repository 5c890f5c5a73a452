#!/bin/bash
# SPDX-License-Identifier: MIT
#
# 17-metrics: wormholed --metrics 127.0.0.1:9464. Two segments: `web` (url -> an echo server) and
# `lazy` (trigger docker-run with idle 1s). Traffic of a known size goes through web, lazy is
# triggered once and scales to zero, and a connection to a dead tail fails. The exposition is
# checked by `promtool check metrics` and by value; then a real Prometheus, started here on
# loopback with a 1 s scrape interval, scrapes the daemon, and its query API must return web's
# byte counter. Then the daemon is restarted (SIGTERM) on the same state directory: every counter,
# the container starts and stops included, is at least what it was. Everything listens on
# 127.0.0.1 inside the test's namespace.
#
#   netns wh-test-$$ ("host")
#   +----------------------------------------------------------------------------------------+
#   | socat --> :9000 [wormholed] --> :9001 socat echo       prometheus :9090 --scrape--> :9464 |
#   |           :9010 [wormholed] --> container (trigger)    curl/promtool ---------------> :9464 |
#   +----------------------------------------------------------------------------------------+
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

command -v promtool >/dev/null || skip "promtool missing (Debian package prometheus)"
command -v prometheus >/dev/null || skip "prometheus missing (Debian package prometheus)"
dk_setup
wh_start_daemon main --metrics 127.0.0.1:9464 --connect-timeout 1
start_tcp_echo "$ns_host" 9001
wh_create id web url :9000 tail url :9001 >/dev/null
wh_create id dead url :9002 tail url :9003 >/dev/null
wh_create id lazy url :9010 idle 1s trigger url :3306 docker-run "--network none --init $IMG wh-echo 3306" >/dev/null
wait_tcp_listen "$ns_host" 9464

scrape() { ip netns exec "$ns_host" curl -sf --max-time 5 http://127.0.0.1:9464/metrics; }
metric() { scrape | awk -v k="$1" '$1 == k { print $2 }'; }

info "traffic: 3 connections of 1000 bytes through web; one to a dead tail; lazy triggered once"
payload=$(head -c 1000 /dev/zero | tr '\0' 'x')
for i in 1 2 3; do
	got=$(printf '%s' "$payload" | ip netns exec "$ns_host" timeout 10 socat -t 5 - TCP:127.0.0.1:9000)
	assert_eq "echo $i length" 1000 "${#got}"
done
ip netns exec "$ns_host" timeout 10 socat -t 5 - TCP:127.0.0.1:9002 </dev/null >/dev/null 2>&1 || true
tcp_echo_check "$ns_host" 127.0.0.1:9010 "lazy"
wait_json lazy state armed 80
wait_all_idle

scrape >"$wh_tmp/metrics.txt"
pretty host "promtool check metrics < metrics.txt"
promtool check metrics <"$wh_tmp/metrics.txt" || fail "promtool check metrics failed"
assert_eq "web bytes in" 3000 "$(metric 'wormhole_segment_bytes_total{segment="web",direction="in"}')"
assert_eq "web bytes out" 3000 "$(metric 'wormhole_segment_bytes_total{segment="web",direction="out"}')"
assert_eq "web connections" 3 "$(metric 'wormhole_segment_connections_total{segment="web"}')"
assert_eq "web active" 0 "$(metric 'wormhole_segment_connections_active{segment="web"}')"
assert_eq "dead: refused until the connect timeout" 1 \
	"$(metric 'wormhole_segment_connect_failures_total{segment="dead",reason="refused"}')"
assert_eq "lazy trigger starts" 1 "$(metric 'wormhole_segment_trigger_starts_total{segment="lazy"}')"
assert_eq "lazy trigger histogram count" 1 "$(metric 'wormhole_segment_trigger_duration_seconds_count{segment="lazy"}')"
assert_eq "lazy trigger histogram +Inf" 1 "$(metric 'wormhole_segment_trigger_duration_seconds_bucket{segment="lazy",le="+Inf"}')"
assert_eq "lazy container starts" 1 "$(metric 'wormhole_segment_container_starts_total{segment="lazy"}')"
assert_eq "lazy container stops" 1 "$(metric 'wormhole_segment_container_stops_total{segment="lazy"}')"
assert_eq "lazy idle stops" 1 "$(metric 'wormhole_segment_idle_stops_total{segment="lazy"}')"
code=$(ip netns exec "$ns_host" curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:9464/other)
assert_eq "another path" 404 "$code"

info "a real Prometheus scrapes it"
cat >"$wh_tmp/prometheus.yml" <<EOC
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: wormhole
    static_configs:
      - targets: ['127.0.0.1:9464']
EOC
bg_in "$ns_host" prometheus --config.file="$wh_tmp/prometheus.yml" --storage.tsdb.path="$wh_tmp/tsdb" \
	--web.listen-address=127.0.0.1:9090 --log.level=warn
wait_tcp_listen "$ns_host" 9090
query() {
	ip netns exec "$ns_host" curl -sf --max-time 5 -G http://127.0.0.1:9090/api/v1/query \
		--data-urlencode "query=$1" | "$PYTHON" -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")'
}
_scraped() { [[ $(query 'wormhole_segment_bytes_total{segment="web",direction="in"}') == 3000 ]]; }
wait_for "Prometheus to return web's byte counter" 300 _scraped
assert_eq "Prometheus: web bytes in" 3000 "$(query 'wormhole_segment_bytes_total{segment="web",direction="in"}')"
assert_eq "Prometheus: target up" 1 "$(query 'up{job="wormhole"}')"

info "restart: the counters come back with the segments"
declare -A before
keys=('wormhole_segment_bytes_total{segment="web",direction="in"}'
	'wormhole_segment_bytes_total{segment="web",direction="out"}'
	'wormhole_segment_connections_total{segment="web"}'
	'wormhole_segment_connect_failures_total{segment="dead",reason="refused"}'
	'wormhole_segment_trigger_starts_total{segment="lazy"}'
	'wormhole_segment_trigger_duration_seconds_count{segment="lazy"}'
	'wormhole_segment_container_starts_total{segment="lazy"}'
	'wormhole_segment_container_stops_total{segment="lazy"}'
	'wormhole_segment_idle_stops_total{segment="lazy"}')
for k in "${keys[@]}"; do before[$k]=$(metric "$k"); done
stop_pid "${wh_daemon_pid[main]}"
wh_start_daemon main --metrics 127.0.0.1:9464 --connect-timeout 1
wait_tcp_listen "$ns_host" 9464
scrape >"$wh_tmp/metrics-after.txt"
promtool check metrics <"$wh_tmp/metrics-after.txt" || fail "promtool check metrics failed after the restart"
for k in "${keys[@]}"; do
	now=$(metric "$k")
	[[ -n $now ]] && ((now >= ${before[$k]})) || fail "$k: ${now:-missing} after the restart, ${before[$k]} before"
	info "$k: ${before[$k]} before, $now after"
done
assert_eq "lazy container starts after the restart" 1 "$(metric 'wormhole_segment_container_starts_total{segment="lazy"}')"
tcp_echo_check "$ns_host" 127.0.0.1:9010 "lazy after the restart"
assert_eq "lazy container starts, counting on" 2 "$(metric 'wormhole_segment_container_starts_total{segment="lazy"}')"
echo "PASS"
