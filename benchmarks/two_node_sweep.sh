#!/usr/bin/env bash
# A two-node Ray cluster on this machine (a head and a second node, both on 127.0.0.1, one CPU each),
# the same `edgecnn sweep` joined to it with --address, then Ray's state API: which nodes exist and
# which node each trial ran on. Needs the `cluster` extra (ray[default]: dashboard and state API).
#   benchmarks/two_node_sweep.sh RECIPE OUT [extra edgecnn sweep flags]
set -euo pipefail
RECIPE=${1:?recipe}; OUT=${2:?output folder}; shift 2
PORT=${RAY_PORT:-6390}
export RAY_AUTH_MODE=${RAY_AUTH_MODE:-token}   # every process below reads the same ~/.ray/auth_token
VENV_BIN=$(dirname "$(command -v edgecnn)")
trap '"$VENV_BIN/ray" stop --force >/dev/null 2>&1 || true' EXIT
"$VENV_BIN/ray" stop --force >/dev/null 2>&1 || true
"$VENV_BIN/ray" start --head --node-ip-address=127.0.0.1 --port="$PORT" --num-cpus=1 \
    --include-dashboard=true --dashboard-host=127.0.0.1 --disable-usage-stats >/dev/null
"$VENV_BIN/ray" start --address="127.0.0.1:$PORT" --node-ip-address=127.0.0.1 --num-cpus=1 >/dev/null
echo "== nodes (ray list nodes: the state API)"
"$VENV_BIN/ray" list nodes --format yaml | grep -E "node_id|node_ip|state|is_head_node"
echo "== sweep"
/usr/bin/time -f "sweep wall %e s" edgecnn sweep "$RECIPE" --out "$OUT" --address "127.0.0.1:$PORT" -j 2 "$@"
echo "== where each trial ran (sweep.json) against the state API's nodes"
python - "$OUT/sweep.json" <<'PY'
import json, sys
from ray.util.state import list_nodes
import ray
ray.init(address="auto", logging_level="ERROR")
nodes = {node.node_id: node for node in list_nodes()}
summary = json.load(open(sys.argv[1]))
for i, row in enumerate(summary["trials"], 1):
    node = nodes.get(row.get("node_id"))
    role = "head" if node and node.is_head_node else "second node" if node else "unknown node"
    print(f"trial {i}: {row['overrides']} -> {role} {row.get('node_id', '')[:12]} ({row.get('node_ip')})")
print({("head" if nodes[n["node_id"]].is_head_node else "second"): n["trials"] for n in summary["nodes"]})
PY
