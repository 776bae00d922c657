#!/usr/bin/env bash
# docs/comparing.md's MLflow picture: a real `mlflow ui` on the SQLite store, on 127.0.0.1, showing
# its compare-runs page for the nested runs of the newest sweep, photographed by headless Chromium
# (apt-get install chromium).
#   bash docs/mlflow_screenshot.sh outputs/mlflow.db docs
set -euo pipefail
db=$(realpath "$1")
out=${2:-docs}
port=$(python -c "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
mlflow ui --backend-store-uri "sqlite:///$db" --host 127.0.0.1 --port "$port" >/dev/null 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 120); do
  curl -sf "http://127.0.0.1:$port/health" >/dev/null && break
  sleep 1
done
# the newest parent run's nested runs, from MLflow's own client
url=$(python - "$db" "$port" <<'PY'
import json, sys, urllib.parse
from mlflow.tracking import MlflowClient
client = MlflowClient(f"sqlite:///{sys.argv[1]}")
ids = [e.experiment_id for e in client.search_experiments()]
runs = client.search_runs(ids, order_by=["attributes.start_time DESC"])
parent = next(r for r in runs if "mlflow.parentRunId" not in r.data.tags)
nested = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
query = urllib.parse.urlencode({
    "runs": json.dumps([r.info.run_id for r in nested]),
    "experiments": json.dumps([parent.info.experiment_id]),
})
print(f"http://127.0.0.1:{sys.argv[2]}/#/compare-runs?{query}")
PY
)
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1600,2000 \
  --virtual-time-budget=30000 --screenshot="$out/mlflow_compare.png" "$url" 2>/dev/null
echo "wrote $out/mlflow_compare.png from $url"
