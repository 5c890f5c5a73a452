#!/bin/bash
# SPDX-License-Identifier: MIT
#
# 63-gateway-example: runs examples/gateway/run.sh (four namespaces: client, gateway, NAT
# router, home; see that script's header): publish from behind NAT, PROXY v2 to a real nginx,
# link cut and back, a scoped key refused.
set -euo pipefail
exec bash "$(dirname "$0")/../../examples/gateway/run.sh"
