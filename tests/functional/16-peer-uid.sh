#!/bin/bash
# SPDX-License-Identifier: MIT
#
# 16-peer-uid: the control socket is a root-owned socket of mode 0600, so `nobody` cannot even
# connect; and when the file mode is opened up (chmod 0666 on the socket and its directory), the
# daemon itself still refuses the non-root peer (SO_PEERCRED check): `ping`, `list` and `create`
# run as nobody fail with a permission error, nothing is created, and root still gets answers.
#
#   netns wh-test-$$ ("host")
#   +---------------------------------------------------------------+
#   | [wormholed] -H unix://T/main.sock  (T = the test's temp dir)   |
#   |   wormhole as root   -> ok                                     |
#   |   wormhole as nobody -> refused (by the file mode, then by the  |
#   |                         daemon's peer uid check)               |
#   +---------------------------------------------------------------+
set -euo pipefail
# shellcheck source=../lib/netns.sh
source "$(dirname "$0")/../lib/netns.sh"

wh_setup
command -v setpriv >/dev/null || skip "setpriv (util-linux) missing"
id nobody >/dev/null 2>&1 || skip "no user 'nobody'"
wh_start_daemon main
sock=$(wh_sock main)

assert_eq "socket type and mode" "socket 600 root" "$(stat -c '%F %a %U' "$sock")"

# as_nobody ARGS...: the CLI as uid/gid nobody, no supplementary groups
as_nobody() {
	pretty "nobody" "wormhole -H unix://$sock $*"
	setpriv --reuid=nobody --regid=nogroup --clear-groups "$WORMHOLE" -H "unix://$sock" "$@"
}

# the CLI binary must be reachable for nobody (the build tree may be private)
if ! setpriv --reuid=nobody --regid=nogroup --clear-groups "$WORMHOLE" version >/dev/null 2>&1 &&
	! setpriv --reuid=nobody --regid=nogroup --clear-groups test -x "$WORMHOLE"; then
	skip "user nobody cannot execute $WORMHOLE"
fi

info "socket mode 0600: the kernel refuses nobody"
chmod 0755 "$wh_tmp"
rc=0
err=$(as_nobody ping 2>&1) || rc=$?
echo "stderr: $err" >&2
[[ $rc -ne 0 ]] || fail "ping as nobody succeeded through a 0600 socket"
assert_match "error names the permission problem" "[Pp]ermission denied|EACCES|not permitted|root" "$err"

info "socket opened up to everyone: the daemon must still refuse a non-root peer"
chmod 0666 "$sock"
wh list --json >"$wh_tmp/before.json"
problems=()
for cmd in ping list "create url :9000 tail url :9001"; do
	rc=0
	# shellcheck disable=SC2086
	err=$(as_nobody $cmd 2>&1) || rc=$?
	echo "stderr: $err" >&2
	if [[ $rc -ne 1 ]]; then
		problems+=("'$cmd' as nobody: exit status $rc (expected 1)")
	elif ! grep -Eq "[Pp]ermission|[Nn]ot permitted|EPERM|EACCES|denied|refused|root" <<<"$err"; then
		problems+=("'$cmd' as nobody: no permission error in: $err")
	else
		echo "ok: '$cmd' as nobody refused: $err" >&2
	fi
done
wh list --json >"$wh_tmp/after.json"
cmp -s "$wh_tmp/before.json" "$wh_tmp/after.json" || fail "list changed after nobody's create: $(cat "$wh_tmp/after.json")"
if tcp_listening "$ns_host" 9000; then
	fail "nobody's create made a listener on 9000"
fi
wh ping >/dev/null || fail "root ping failed after nobody was refused"
echo "ok: root still served" >&2
if [[ ${#problems[@]} -gt 0 ]]; then
	fail "$(printf '%s; ' "${problems[@]}")"
fi
echo "PASS"
