#!/usr/bin/env bash
# Warm-path before/after: the same model and body against two builds of the functions app, interleaved, with wrk.
#   bench/warm-path.sh BEFORE_DIR AFTER_DIR [rows] [rounds]
# Each DIR holds a JIT build of the app serving predict: Pipeline.Serving.dll (artifacts/bin/Pipeline.Serving/
# release_linux-x64), or Pipeline.Functions.dll for builds from before the serving app was split off (e.g. commit 41e3460,
# extracted with `git archive 41e3460 | tar -x -C /tmp/before` and built with `dotnet build functions/Pipeline.Functions
# -c Release`). Needs Azurite and `dotnet run bench/publish-model.cs -- bench <rows>` first. Prints requests/s and latency.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
before="$1"; after="$2"; rows="${3:-1}"; rounds="${4:-3}"
key="bench-function-key-0123456789"
export BODY="$here/out/body-$rows.json" KEY="$key"

start() { # dir port
  (cd "$1" && ASPNETCORE_URLS="http://127.0.0.1:$2" Storage__ConnectionString=UseDevelopmentStorage=true \
     Http__FunctionKey="$key" Models__CurrentPollInterval=01:00:00 Logging__LogLevel__Default=Warning DOTNET_gcServer=0 \
     exec dotnet "$(ls Pipeline.Serving.dll 2>/dev/null || echo Pipeline.Functions.dll)" >/dev/null 2>&1) &
  echo $!
}
wait_ready() { for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$1/" >/dev/null && return 0; sleep 0.1; done; return 1; }

pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT
pids+=("$(start "$before" 7301)"); pids+=("$(start "$after" 7302)")
wait_ready 7301; wait_ready 7302
for port in 7301 7302; do # load the model and warm the JIT
  wrk -t1 -c8 -d3s -s "$here/post.lua" "http://127.0.0.1:$port/api/models/bench/predict" >/dev/null
done
for round in $(seq 1 "$rounds"); do
  for port in 7301 7302; do
    name=$([ "$port" = 7301 ] && echo before || echo after)
    wrk -t1 -c16 -d8s --latency -s "$here/post.lua" "http://127.0.0.1:$port/api/models/bench/predict" \
      | awk -v n="$name" -v r="$round" '/Requests\/sec/ {rps=$2} /^ +50%/ {p50=$2} /^ +99%/ {p99=$2} /Non-2xx/ {bad=$5}
          END {printf "%-6s round %d rows %s: %8.0f req/s  p50 %s  p99 %s  non-2xx %s\n", n, r, ENVIRON["ROWS"], rps, p50, p99, (bad==""?0:bad)}' ROWS="$rows"
  done
done
