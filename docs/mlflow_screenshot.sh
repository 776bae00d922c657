#!/usr/bin/env bash
# docs/comparing.md's MLflow picture: a real `mlflow ui` on the SQLite store, on 127.0.0.1, showing
# its compare-runs page for the nested runs of the newest sweep with "Show diff only" switched on,
# photographed by headless Chromium driven by Playwright (apt-get install chromium; pip install
# playwright in any venv, named by $PLAYWRIGHT_PYTHON; Playwright's own browsers are not needed).
#   PLAYWRIGHT_PYTHON=/tmp/pw/bin/python bash docs/mlflow_screenshot.sh outputs/mlflow.db docs
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
"${PLAYWRIGHT_PYTHON:-python}" - "$url" "$out/mlflow_compare.png" <<'PY'
import sys
from playwright.sync_api import sync_playwright

url, path = sys.argv[1:]
with sync_playwright() as p:
    browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
    page = browser.new_page(viewport={"width": 1600, "height": 1400})
    page.goto(url)
    page.get_by_text("Show diff only").first.wait_for(timeout=60000)
    page.get_by_role("switch").first.click()  # the page's first switch: "Show diff only"
    page.wait_for_timeout(1500)
    page.screenshot(path=path, full_page=True)
    browser.close()
PY
echo "wrote $out/mlflow_compare.png from $url"
