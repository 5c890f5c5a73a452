#!/bin/bash
# SPDX-License-Identifier: MIT
#
# bench/docker.sh: the Docker part of wormhole's benchmark (see bench/README.md, section "Docker").
#
#  1. docker-ns tail against url tail, in one wormholed, in the same run: new connections per
#     second (wrk -H 'Connection: close', as bench/run.sh) through `url :9101 tail url :8080
#     docker-ns C` to an nginx running inside container C's network namespace, and through
#     `url :9102 tail url :8081` to an identical nginx in our own namespace. Both nginx are the
#     same host binary with the same config; only the namespace differs. The two segments are
#     measured alternately, REPEAT times; reported: the median ratio docker-ns/url of the rates
#     and wormholed's CPU µs per connection for each.
#  2. trigger docker-run latency: `url :9110 trigger url :3306 docker-run '--network none --init
#     wormhole-test/busybox wh-echo --stamp 3306'`; a client connects, sends one byte and times the
#     first reply byte. wh-echo --stamp prints the CLOCK_REALTIME at which its listen() succeeded
#     (read back with `docker logs`): overhead = first reply byte - container listening, i.e. what
#     wormhole adds on top of the time the container itself needs to start accepting. Repeated
#     TRIG_N times (the segment is deleted in between, which removes the container), interleaved
#     with a baseline that creates and starts the same container directly through the Engine API
#     (curl) and waits for the same stamp. wormholed's log is timestamped line by line
#     (dockertool stamp) to split the trigger into its parts.
#
# Usage: bash bench/docker.sh [--quick] [--repeat N] [--trig N] [--parts "ns trigger"] [--strace]
#                             [--keep] [--markdown FILE] [--no-install] [--no-build] [--build DIR]
#   --quick      2 s wrk runs, 3 alternations, 5 triggers (default: 5 s, 5, 20)
#   --parts P    run only these parts: ns (docker-ns against url), trigger (default both)
#   --strace     also trace wormholed's connect() calls during the trigger runs (strace -ttt) to
#                count the connector's attempts; this slows the data path, so use it to analyse
#   --build DIR  use the wormholed/wormhole of an existing build (default: build-dbench, release)
#
# As root. wormholed, wrk, both nginx and the clients run in a private network namespace
# (unshare --net); dockerd (tests/lib/dockerd.sh: the private test engine, started if none
# answers, stopped again only if this script started it) stays in the machine's namespace, and
# every container runs with --network none, so all traffic is on loopback interfaces of
# namespaces made for the run. wormholed on core 0, everything else on core 1. Every process is
# stopped by pid, every container removed, at the end.
set -Eeuo pipefail
shopt -s execfail
trap 'echo "docker.sh: line $LINENO: \"$BASH_COMMAND\" failed" >&2' ERR

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=$(dirname "$HERE")
BUILD=$SRC/build-dbench

QUICK=0
REPEAT=
TRIG_N=
STRACE=0
KEEP=0
INSTALL=1
DOBUILD=1
MARKDOWN=
PARTS="ns trigger"
ORIG_ARGS=("$@")
while [[ $# -gt 0 ]]; do
	case $1 in
	--quick) QUICK=1 ;;
	--repeat) REPEAT=$2; shift ;;
	--trig) TRIG_N=$2; shift ;;
	--strace) STRACE=1 ;;
	--parts) PARTS=$2; shift ;;
	--keep) KEEP=1 ;;
	--no-install) INSTALL=0 ;;
	--no-build) DOBUILD=0 ;;
	--build) BUILD=$(realpath "$2"); DOBUILD=0; shift ;;
	--markdown) MARKDOWN=$(realpath -m "$2"); shift ;;
	-h | --help) sed -n '3,36p' "$0"; exit 0 ;;
	*) echo "docker.sh: unknown option '$1'" >&2; exit 2 ;;
	esac
	shift
done
if ((QUICK)); then
	DUR=2 REPEAT=${REPEAT:-3} TRIG_N=${TRIG_N:-5}
else
	DUR=5 REPEAT=${REPEAT:-5} TRIG_N=${TRIG_N:-20}
fi

log() { printf '[dbench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

IMG=wormhole-test/busybox:latest
WHD=$BUILD/wormholed/wormholed
WHC=$BUILD/wormhole-cli/wormhole

# ---------------------------------------------------------------------------------------------
# Stage 1 (the machine's namespace): install, build, Docker engine and image, then run stage 2
# in a private network namespace and clean up after it.
# ---------------------------------------------------------------------------------------------
if [[ -z ${DBENCH_INNER:-} ]]; then
	[[ $(id -u) == 0 ]] || { echo "docker.sh: must run as root" >&2; exit 1; }
	if ((INSTALL)); then
		missing=()
		for pkg in wrk nginx-light curl util-linux iproute2 gcc meson ninja-build python3; do
			dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' || missing+=("$pkg")
		done
		if [[ " ${missing[*]} " == *" nginx-light "* ]] && command -v nginx >/dev/null; then
			missing=("${missing[@]/nginx-light/}")
		fi
		((STRACE)) && ! command -v strace >/dev/null && missing+=(strace)
		if [[ -n ${missing[*]// /} ]]; then
			log "installing: ${missing[*]}"
			apt-get update -qq
			# shellcheck disable=SC2048,SC2086 # the names are words; empty ones must vanish
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ${missing[*]}
		fi
	fi
	T=$(mktemp -d /tmp/wormhole-dbench.XXXXXX)
	cc -O2 -Wall -Wextra -o "$T/dockertool" "$HERE/tools/dockertool.c"
	if ((DOBUILD)); then
		if [[ ! -f $BUILD/build.ninja ]]; then
			meson setup "$BUILD" "$SRC" --buildtype=release >"$T/meson.log" 2>&1 || true
		else
			meson configure "$BUILD" --buildtype=release >"$T/meson.log" 2>&1 || true
		fi
		ninja -C "$BUILD" >"$T/ninja.log" 2>&1 || { log "build failed, see $T/ninja.log"; exit 1; }
	fi
	[[ -x $WHD && -x $WHC ]] || { log "no wormholed/wormhole in $BUILD"; exit 1; }

	# shellcheck source=../tests/lib/dockerd.sh
	source "$SRC/tests/lib/dockerd.sh"
	# shellcheck source=../tests/lib/images.sh
	source "$SRC/tests/lib/images.sh"
	dockerd_start || { log "no Docker engine"; exit 1; }
	trap 'dockerd_stop' EXIT
	images_build || { log "cannot build $IMG (tests/lib/images.sh)"; exit 1; }
	log "Docker engine $DOCKER_HOST ($(docker version -f '{{.Server.Version}}' 2>/dev/null)), image $IMG"
	rc=0
	DBENCH_TMP=$T unshare --net env DBENCH_INNER=1 bash "$0" "${ORIG_ARGS[@]}" || rc=$?
	if ((KEEP)) || ((rc != 0)); then
		log "logs kept in $T"
	else
		rm -rf "$T"
	fi
	exit $rc
fi

# ---------------------------------------------------------------------------------------------
# Stage 2: in the private network namespace.
# ---------------------------------------------------------------------------------------------
T=$DBENCH_TMP
DT=$T/dockertool
TCK=$(getconf CLK_TCK)
CTL1=$T/ctl-ns.sock
CTL2=$T/ctl-trigger.sock
P_NS=9101 P_URL=9102 P_TRIG=9110 P_NGINX_C=8080 P_NGINX_H=8081 P_ECHO=3306
# below ip_local_port_range (10000-65000 in the benchmark namespace): wrk's ~60 000 short
# connections would otherwise hold these ports as their local ends (EADDRINUSE at create)
CNAME=wh-dbench-ns-$$
WRK_C=50

ip link set lo up
ns_sysctls() { # the same settings in our namespace and in the container's (run.sh's)
	sysctl -qw net.ipv4.ip_local_port_range="10000 65000"
	sysctl -qw net.ipv4.tcp_tw_reuse=1
	sysctl -qw net.core.somaxconn=8192
	sysctl -qw net.ipv4.tcp_max_syn_backlog=8192
}
ns_sysctls

STARTED=()
CONTAINERS=()
cleanup() {
	local rc=$? pid c ids
	set +e
	trap - ERR
	for pid in "${STARTED[@]}"; do kill "$pid" 2>/dev/null; done
	sleep 0.5
	for pid in "${STARTED[@]}"; do kill -9 "$pid" 2>/dev/null; done
	wait 2>/dev/null
	for c in "${CONTAINERS[@]}"; do docker rm -f "$c" >/dev/null 2>&1; done
	for c in "$CTL1" "$CTL2" "$T/ctl-base"; do
		ids=$(docker ps -aq --filter "label=wormhole.daemon=$c")
		# shellcheck disable=SC2086 # one id per word
		[[ -z $ids ]] || docker rm -f $ids >/dev/null 2>&1
	done
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start() { # VAR CORE CMD...: in the background on CORE, remember the pid
	local var=$1 core=$2
	shift 2
	taskset -c "$core" "$@" &
	STARTED+=("$!")
	printf -v "$var" '%s' "$!"
}

listening() { # PORT [PID whose netns to look in]
	if [[ -n ${2:-} ]]; then
		nsenter -t "$2" -n ss -Hltn "sport = :$1" | grep -q .
	else
		ss -Hltn "sport = :$1" | grep -q .
	fi
}
wait_listen() {
	local i
	for i in $(seq 200); do
		listening "$@" && return 0
		sleep 0.05
	done
	log "nothing listens on port $1${2:+ in the netns of pid $2}"
	return 1
}

cpu_ticks() { sed 's/.*) //' /proc/"$1"/stat | awk '{ print $12 + $13 }'; }

start_wormholed() { # VAR CTL LOGCMD: wormholed on core 0, its stderr to LOGCMD
	local var=$1 ctl=$2 logfile=$3 stamped=$4 pid i
	rm -f "$ctl"
	# a fresh state per start (never the machine's /var/lib/wormhole): nothing restored
	rm -rf "$T/wh-state" && mkdir -p "$T/wh-state" "$T/wh-chains"
	if ((stamped)); then
		# through the stamper (core 1): ns timestamps per log line
		taskset -c 0 "$WHD" -H "unix://$ctl" --state "$T/wh-state" --chains "$T/wh-chains" --max-conns 10000 2> >(taskset -c 1 "$DT" stamp >"$logfile") &
	else
		taskset -c 0 "$WHD" -H "unix://$ctl" --state "$T/wh-state" --chains "$T/wh-chains" --max-conns 10000 2>"$logfile" &
	fi
	pid=$!
	STARTED+=("$pid")
	for i in $(seq 100); do "$WHC" -H "unix://$ctl" ping >/dev/null 2>&1 && break; sleep 0.05; done
	"$WHC" -H "unix://$ctl" ping >/dev/null || { log "wormholed ($ctl) does not answer"; return 1; }
	printf -v "$var" '%s' "$pid"
}

log "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
log "tmp $T; wrk ${DUR}s x $REPEAT alternations; $TRIG_N triggers"

# ---------------------------------------------------------------------------------------------
# Part 1: docker-ns tail against url tail.
# ---------------------------------------------------------------------------------------------
nginx_conf() { # DIR PORT
	mkdir -p "$1/www" "$1/logs" "$1/tmp"
	head -c 100 /dev/zero | tr '\0' 'w' >"$1/www/f.txt"
	cat >"$1/nginx.conf" <<-EOF
		daemon off;
		master_process off;
		worker_processes 1;
		worker_rlimit_nofile 20000;
		pid $1/nginx.pid;
		error_log $1/logs/error.log;
		events { worker_connections 10000; }
		http {
		    access_log off;
		    keepalive_requests 100000000;
		    keepalive_timeout 60s;
		    client_body_temp_path $1/tmp;
		    proxy_temp_path $1/tmp;
		    fastcgi_temp_path $1/tmp;
		    uwsgi_temp_path $1/tmp;
		    scgi_temp_path $1/tmp;
		    server {
		        listen 127.0.0.1:$2 backlog=4096;
		        root $1/www;
		    }
		}
	EOF
}

WRK=$T/wrk.tsv
printf 'rep\tseg\trate\tp50_us\tp99_us\terrors\tcpu_us_per_conn\n' >"$WRK"
to_us() { awk '{ v = $1 + 0; if ($1 ~ /us$/) f = 1; else if ($1 ~ /ms$/) f = 1000; else if ($1 ~ /s$/) f = 1e6; else f = 1; printf "%.0f\n", v * f }'; }

wrk_seg() { # REP LABEL PORT
	local rep=$1 seg=$2 port=$3 out=$T/wrk-$2-$1.txt c0 c1 rps req p50 p99 err cpu
	c0=$(cpu_ticks "$WH1")
	taskset -c 1 wrk -t1 -c$WRK_C -d"${DUR}s" --latency -H 'Connection: close' \
		"http://127.0.0.1:$port/f.txt" >"$out" 2>&1 || true
	c1=$(cpu_ticks "$WH1")
	rps=$(awk '/^Requests\/sec:/ { print $2 }' "$out")
	req=$(awk '/requests in/ { print $1 }' "$out")
	[[ -n $rps && -n $req ]] || { log "wrk via $seg failed: $(tail -c 300 "$out")"; return 0; }
	p50=$(awk '$1 == "50%" { print $2 }' "$out" | to_us)
	p99=$(awk '$1 == "99%" { print $2 }' "$out" | to_us)
	err=$(awk '/Socket errors/ { gsub(",", ""); print $4 + $6 + $8 + $10 } /Non-2xx/ { print $NF }' "$out" | awk '{ s += $1 } END { print s + 0 }')
	cpu=$(awk -v a="$c0" -v b="$c1" -v n="$req" -v t="$TCK" 'BEGIN { printf "%.1f", (b - a) / t * 1e6 / n }')
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$rep" "$seg" "$rps" "$p50" "$p99" "$err" "$cpu" >>"$WRK"
	log "wrk via $seg tail: $rps conn/s, p50 ${p50}us p99 ${p99}us, errors $err, wormholed ${cpu}us CPU/conn"
}

part_ns() {
	docker run -d --network none --init --name "$CNAME" "$IMG" sleep 1000000 >/dev/null
	CONTAINERS+=("$CNAME")
	CPID=$(docker inspect -f '{{.State.Pid}}' "$CNAME")
	nsenter -t "$CPID" -n bash -c "$(declare -f ns_sysctls); ns_sysctls"
	nginx_conf "$T/nginx-c" $P_NGINX_C
	nginx_conf "$T/nginx-h" $P_NGINX_H
	start NGINX_C 1 nsenter -t "$CPID" -n nginx -p "$T/nginx-c" -c "$T/nginx-c/nginx.conf" -e "$T/nginx-c/logs/error.log"
	start NGINX_H 1 nginx -p "$T/nginx-h" -c "$T/nginx-h/nginx.conf" -e "$T/nginx-h/logs/error.log"
	wait_listen $P_NGINX_C "$CPID"
	wait_listen $P_NGINX_H

	start_wormholed WH1 "$CTL1" "$T/wormholed-ns.log" 0
	"$WHC" -H "unix://$CTL1" create id viadocker url ":$P_NS" tail url ":$P_NGINX_C" docker-ns "$CNAME" >/dev/null
	"$WHC" -H "unix://$CTL1" create id viaurl url ":$P_URL" tail url ":$P_NGINX_H" >/dev/null
	for p in $P_NS $P_URL; do # one request through each first: the backend must answer the same
		body=$(curl -s --max-time 5 "http://127.0.0.1:$p/f.txt")
		[[ $body == "$(cat "$T/nginx-h/www/f.txt")" ]] || { log "no valid reply through :$p"; exit 1; }
	done
	for rep in $(seq "$REPEAT"); do
		if ((rep % 2)); then
			wrk_seg "$rep" docker-ns $P_NS
			wrk_seg "$rep" url $P_URL
		else
			wrk_seg "$rep" url $P_URL
			wrk_seg "$rep" docker-ns $P_NS
		fi
	done
	"$WHC" -H "unix://$CTL1" delete viadocker >/dev/null
	"$WHC" -H "unix://$CTL1" delete viaurl >/dev/null
	kill "$WH1" "${NGINX_C:?}" "${NGINX_H:?}"
	docker rm -f "$CNAME" >/dev/null
}

# ---------------------------------------------------------------------------------------------
# Part 2: trigger docker-run latency, interleaved with the same container made through the API.
# ---------------------------------------------------------------------------------------------
TRIG=$T/trigger.tsv
BASE=$T/baseline.tsv
printf 'i\tconnect_ns\tfirst_byte_ns\ttrigger_log_ns\tcreated_ns\tstarted_ns\tlisten_ns\tstarted_log_ns\ttriggered_log_ns\tattempts\tfirst_attempt_ns\tlast_attempt_ns\n' >"$TRIG"
printf 'i\tcreate_req_ns\tcreate_resp_ns\tstart_resp_ns\tcreated_ns\tstarted_ns\tlisten_ns\n' >"$BASE"
RUNARGS="--network none --init $IMG wh-echo --stamp $P_ECHO"
WHLOG=$T/wormholed-trigger.log

iso_ns() { python3 -c 'import sys,datetime
s=sys.argv[1].rstrip("Z"); a,_,f=s.partition("."); f=(f+"000000000")[:9]
d=datetime.datetime.strptime(a,"%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc)
print(int(d.timestamp())*10**9+int(f))' "$1"; }
now_ns() { local t=$EPOCHREALTIME; echo "${t/./}000"; }

stamp_of() { # CONTAINER: the "listening NS" line of wh-echo --stamp
	local i s
	for i in $(seq 200); do
		s=$(docker logs "$1" 2>/dev/null | awk '$1 == "listening" { print $2; exit }')
		[[ -n $s ]] && { echo "$s"; return 0; }
		sleep 0.05
	done
	return 1
}

wait_gone() { # LABEL-FILTER...: until no container matches (10 s)
	local i
	for i in $(seq 100); do
		[[ -z $(docker ps -aq "$@") ]] && return 0
		sleep 0.1
	done
	log "containers still there: $(docker ps -aq "$@")"
}

baseline_once() { # I: create + start through the Engine API as wormholed does, wait for the stamp
	local i=$1 sock=${DOCKER_HOST#unix://} body id t0 t1 t2 created started listen
	body=$(printf '{"Image":"%s","Cmd":["wh-echo","--stamp","%s"],"Labels":{"wormhole.daemon":"%s"},"HostConfig":{"NetworkMode":"none","Init":true}}' "$IMG" $P_ECHO "$T/ctl-base")
	t0=$(now_ns)
	id=$(curl -sf --unix-socket "$sock" -H 'Content-Type: application/json' -d "$body" \
		http://localhost/containers/create) || id=
	t1=$(now_ns)
	[[ $id =~ \"Id\":\"([0-9a-f]+)\" ]] || { log "baseline $i: create failed: $id"; return 0; }
	id=${BASH_REMATCH[1]}
	curl -sf --unix-socket "$sock" -X POST "http://localhost/containers/$id/start" >/dev/null
	t2=$(now_ns)
	listen=$(stamp_of "$id") || { log "baseline $i: no listening stamp"; docker rm -f "$id" >/dev/null; return 0; }
	read -r created started < <(docker inspect -f '{{.Created}} {{.State.StartedAt}}' "$id")
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$i" "$t0" "$t1" "$t2" "$(iso_ns "$created")" "$(iso_ns "$started")" "$listen" >>"$BASE"
	docker rm -f "$id" >/dev/null
	log "baseline $i: API create+start -> listening $(( (listen - t0) / 1000000 )) ms"
}

log_ns() { # SEGMENT PATTERN: timestamp of the first matching line of the stamped log
	grep -F "segment '$1'" "$WHLOG" | grep -F -- "$2" | awk 'NR == 1 { print $1 }'
}

trigger_once() { # I
	local i=$1 seg=trig$1 out cn fb id created started pid listen st tr tl att=- lref=- conn=-
	"$WHC" -H "unix://$CTL2" create id "$seg" url ":$P_TRIG" trigger url ":$P_ECHO" docker-run "$RUNARGS" >/dev/null
	wait_listen $P_TRIG
	sleep 0.3
	if ((STRACE)); then
		strace -f -ttt -e trace=connect -o "$T/strace-$seg.txt" -p "$WH2" 2>/dev/null &
		STRACE_PID=$!
		sleep 0.5
	fi
	out=$(taskset -c 1 "$DT" firstbyte $P_TRIG 60) || { log "trigger $i: no reply"; out=; }
	if ((STRACE)); then
		sleep 0.1
		kill "$STRACE_PID"
		wait "$STRACE_PID" 2>/dev/null || true
	fi
	id=$(docker ps -aq --no-trunc --filter "label=wormhole.daemon=$CTL2" --filter "label=wormhole.segment=$seg")
	if [[ -n $out && -n $id ]]; then
		cn=$(sed 's/.*connect_ns=\([0-9]*\).*/\1/' <<<"$out")
		fb=$(sed 's/.*first_byte_ns=\([0-9]*\).*/\1/' <<<"$out")
		read -r created started pid < <(docker inspect -f '{{.Created}} {{.State.StartedAt}} {{.State.Pid}}' "$id")
		listen=$(stamp_of "$id") || listen=0
		tl=$(log_ns "$seg" "running the trigger")
		st=$(log_ns "$seg" "started container")
		tr=$(log_ns "$seg" "triggered, tail is")
		if ((STRACE)); then
			# the connector's connect() calls to the container's port ("PID SEC.USEC connect(...,
			# sin_port=htons(3306), ...) = -1 EINPROGRESS"): how many, the first and the last
			# (the one that got through; a refusal shows up later as EPOLLERR, not here)
			grep -F "htons($P_ECHO)" "$T/strace-$seg.txt" | awk '{ split($2, a, "."); print a[1] a[2] "000" }' >"$T/attempts-$seg.txt" || true
			att=$(wc -l <"$T/attempts-$seg.txt")
			lref=$(head -n 1 "$T/attempts-$seg.txt")
			conn=$(tail -n 1 "$T/attempts-$seg.txt")
			((att > 0)) || { att=0 lref=- conn=-; }
		fi
		printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$i" "$cn" "$fb" "${tl:-0}" \
			"$(iso_ns "$created")" "$(iso_ns "$started")" "$listen" "${st:-0}" "${tr:-0}" \
			"$att" "$lref" "$conn" >>"$TRIG"
		log "trigger $i: first byte after $(((fb - cn) / 1000000)) ms, container listening after $(((listen - cn) / 1000000)) ms: overhead $(((fb - listen) / 1000000)) ms$( ((STRACE)) && echo ", connect attempts $att")"
	else
		log "trigger $i failed: out='$out' container='$id'"
	fi
	"$WHC" -H "unix://$CTL2" delete "$seg" >/dev/null || log "delete $seg failed"
	wait_gone --filter "label=wormhole.daemon=$CTL2"
}

part_trigger() {
	start_wormholed WH2 "$CTL2" "$WHLOG" 1
	# warm-up: the image's layers and the runtime's caches, once, untimed
	docker run --rm --network none --init "$IMG" true >/dev/null
	for i in $(seq "$TRIG_N"); do
		trigger_once "$i"
		baseline_once "$i"
	done
	kill "$WH2"
}

if [[ " $PARTS " == *" ns "* ]]; then part_ns; fi
if [[ " $PARTS " == *" trigger "* ]]; then part_trigger; fi

# ---------------------------------------------------------------------------------------------
log "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -sr), $(nproc) CPUs ($(lscpu | sed -n 's/^Model name: *//p')), Docker $(docker version -f '{{.Server.Version}}' 2>/dev/null)"
python3 "$HERE/tools/docker-table.py" "$WRK" "$TRIG" "$BASE" --dur "$DUR" ${MARKDOWN:+--markdown "$MARKDOWN"}
