#!/bin/bash
# SPDX-License-Identifier: MIT
#
# 67-readme-remote: the README's two-namespace `remote` example (section "Peers"), run exactly
# as printed: the indented block after "Two namespaces standing in for two machines" is taken
# from README.md and run by bash from a directory whose build/ is this build. It must print the
# create line and "hello" back from B, and list the segment. The block uses fixed names
# (namespaces A and B, /tmp/a.sock, /tmp/b.sock, /tmp/wh.key): if any of them exists already,
# the test skips rather than touch someone else's.
#
#   A 198.18.0.1 (wh-ab) --veth-- (wh-ba) 198.18.0.2 B
#   socat -> :3306 [wormholed A] ==TLS link :9999==> [wormholed B] -> :3306 socat echo
set -euo pipefail
# shellcheck source=../lib/netns.sh
source "$(dirname "$0")/../lib/netns.sh"

wh_setup
for ns in A B; do
	[[ ! -e /run/netns/$ns ]] || skip "a network namespace '$ns' exists already"
done
for f in /tmp/a.sock /tmp/b.sock /tmp/wh.key; do
	[[ ! -e $f ]] || skip "$f exists already"
done

block=$("$PYTHON" - "$WH_REPO/README.md" <<'PY'
import sys
lines = open(sys.argv[1]).read().split("\n")
start = next(i for i, l in enumerate(lines) if l.startswith("Two namespaces standing in for two machines"))
out = []
for l in lines[start + 1:]:
    if not out and l == "":
        continue
    if not l.startswith("    "):
        break
    out.append(l[4:])
print("\n".join(out))
PY
)
[[ -n $block ]] || fail "no example block found in README.md"
info "the README's block:"
printf '%s\n' "$block" >&2

cleanup_readme() {
	local rc=$? p i
	set +e # a process that exits between the listing and the kill is not a failure
	for p in $(cat "$wh_tmp/jobs" 2>/dev/null); do
		kill "$p" 2>/dev/null
	done
	# the README's daemons get 10 s to exit (an ASan build checks for leaks at exit)
	for p in $(cat "$wh_tmp/jobs" 2>/dev/null); do
		for ((i = 0; i < 200; i++)); do
			alive "$p" || break
			sleep 0.05
		done
	done
	for ns in A B; do
		if [[ -e /run/netns/$ns ]]; then
			for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
			ip netns del "$ns" 2>/dev/null
		fi
	done
	rm -f /tmp/a.sock /tmp/b.sock /tmp/wh.key
	# the README's daemons keep their segments in the default state directory, one per control
	# socket: remove those two, or the next run would restore the segment on :3306
	rm -rf /var/lib/wormhole/instances/tmp-a.sock /var/lib/wormhole/instances/tmp-b.sock
	(exit "$rc")
	wh_cleanup
}
trap cleanup_readme EXIT
rm -rf /var/lib/wormhole/instances/tmp-a.sock /var/lib/wormhole/instances/tmp-b.sock

# "from the build directory's parent": a directory whose build/ is this build
mkdir "$wh_tmp/top"
ln -s "$(dirname "$(dirname "$WORMHOLED")")" "$wh_tmp/top/build"
{
	printf 'set -e\ncd %q\n' "$wh_tmp/top"
	printf '%s\n' "$block"
	printf 'jobs -p >%q\n' "$wh_tmp/jobs"
} >"$wh_tmp/readme.sh"
# to a file: the daemons it starts in the background keep a pipe open
timeout 60 bash "$wh_tmp/readme.sh" >"$wh_tmp/readme.out" 2>"$wh_tmp/readme.err" ||
	fail "the README block failed: $(cat "$wh_tmp/readme.err")"
out=$(cat "$wh_tmp/readme.out")
printf '%s\n' "$out" >&2
grep -qx 'hello' <<<"$out" || fail "no 'hello' back from B"
grep -qE '^[a-z0-9-]+ tcp://127\.0\.0\.1:3306$' <<<"$out" || fail "no create line"
grep -q 'peer://198.18.0.2:9999' <<<"$out" || fail "list shows no remote child on 198.18.0.2"
echo "PASS"
