#!/usr/bin/env bash
# The README's TensorBoard pictures: a real `tensorboard --logdir <sweep dir>` on 127.0.0.1,
# photographed by headless Chromium (apt-get install chromium).
#   bash docs/tensorboard_screenshots.sh outputs/train/multiruns/<sweep> docs
set -euo pipefail
sweep=$1
out=${2:-docs}
port=$(python -c "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
tensorboard --logdir "$sweep" --host 127.0.0.1 --port "$port" --load_fast false >/dev/null 2>&1 &
server=$!
trap 'kill $server' EXIT
for _ in $(seq 60); do
  curl -sf "http://127.0.0.1:$port/data/runs" | grep -q '"' && break
  sleep 1
done
shot() {  # shot <file> <url fragment> <width,height>
  chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size="$3" \
    --virtual-time-budget=20000 --screenshot="$out/$1" "http://127.0.0.1:$port/#$2" 2>/dev/null
}
shot tensorboard_scalars.png "scalars&tagFilter=val%2Facc" 1600,1000
shot tensorboard_hparams.png "hparams" 2200,700
