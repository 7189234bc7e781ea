#!/usr/bin/env bash
# The serving benchmark, in one run (docs/benchmarks.md, "Serving"): same model file, same JSON contract, interleaved.
#   bash bench/run.sh            (ROUNDS=3 RUNS=10 CONNECTIONS=32 DURATION=10 ROWS=1 to change)
# Targets: ours with Native AOT and with the JIT (the serving app), the Node.js peer (fastify 5 + onnxruntime-node 1.30,
# bench/node-peer), and a no-op endpoint of our own server (the HTTP floor). Load: wrk (apt-get install wrk).
# Needs Azurite (started here if none answers) and writes bench/out/results.md. Not part of the test suite.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bench="$root/bench"; out="$bench/out"
ROUNDS="${ROUNDS:-3}"; RUNS="${RUNS:-10}"; CONNECTIONS="${CONNECTIONS:-32}"; DURATION="${DURATION:-10}"; ROWS="${ROWS:-1}"
KEY="bench-function-key-0123456789"
cd "$root"
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install -y wrk" >&2; exit 1; }
bash scripts/azurite.sh start >/dev/null

echo "== build: serving app (JIT build and Native AOT publish), Node peer, model"
dotnet build functions/Pipeline.Serving -c Release --nologo -v quiet >/dev/null
dotnet publish functions/Pipeline.Serving -c Release --nologo -v quiet -o "$out/aot" >/dev/null
(cd "$bench" && ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund --loglevel=error >/dev/null)
dotnet run bench/publish-model.cs -- bench "$ROWS" >/dev/null
jit="$root/artifacts/bin/Pipeline.Serving/release_linux-x64"
export BODY="$out/body-$ROWS.json" KEY

common="Http__FunctionKey=$KEY Logging__LogLevel__Default=Warning Models__CurrentPollInterval=00:00:05"
azurite="Storage__ConnectionString=UseDevelopmentStorage=true"
disk="Models__Path=$out/models"
declare -A url=(
  [ours-aot]="http://127.0.0.1:7401/api/models/bench/predict"
  [ours-jit]="http://127.0.0.1:7403/api/models/bench/predict"
  [node-peer]="http://127.0.0.1:7402/api/models/bench/predict"
  [noop]="http://127.0.0.1:7401/api/bench/noop"
)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
start() { # port cwd env command...
  local port="$1" cwd="$2" env="$3"; shift 3
  (cd "$cwd" && exec env $env ASPNETCORE_URLS="http://127.0.0.1:$port" PORT="$port" "$@" >/dev/null 2>&1) &
  pids+=("$!")
  for _ in $(seq 1 200); do curl -sf "http://127.0.0.1:$port/" >/dev/null && return 0; sleep 0.05; done
  echo "server on $port did not start" >&2; exit 1
}
start 7401 "$out/aot" "$common $azurite Bench__NoOp=true" ./Pipeline.Serving
start 7403 "$jit" "$common $azurite" dotnet Pipeline.Serving.dll
start 7402 "$bench" "KEY=$KEY MODELS_PATH=$out/models" node node-peer/server.js
for target in ours-aot ours-jit node-peer noop; do # load the model, warm the JIT
  wrk -t1 -c8 -d3s -s "$bench/post.lua" "${url[$target]}" >/dev/null
done

wrk_run() { # target script connections duration -> "req/s p50 p99 non2xx"
  wrk -t1 -c"$3" -d"$4"s --latency -s "$bench/$2" "${url[$1]}" | awk '
    function us(v) { if (v ~ /us$/) return v + 0; if (v ~ /ms$/) return v * 1000; if (v ~ /s$/) return v * 1000000; return v }
    /Requests\/sec/ {rps=$2} /^ +50%/ {p50=us($2)} /^ +99%/ {p99=us($2)} /Non-2xx/ {bad=$5}
    END {printf "%.0f %.0f %.0f %d\n", rps, p50, p99, bad}'
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

echo "== throughput: $CONNECTIONS connections, ${DURATION}s, $ROWS row(s) per request, $ROUNDS interleaved rounds"
declare -A rps
for round in $(seq 1 "$ROUNDS"); do
  for target in ours-aot node-peer noop ours-jit; do
    read -r r p50 p99 bad < <(wrk_run "$target" post.lua "$CONNECTIONS" "$DURATION")
    echo "round $round $target: $r req/s (p50 ${p50}us p99 ${p99}us, non-2xx $bad)"
    [ "$bad" = 0 ] || { echo "$target answered non-2xx responses" >&2; exit 1; }
    rps[$target]+="$r "
  done
done
declare -A max
for target in "${!rps[@]}"; do max[$target]=$(echo "${rps[$target]}" | tr ' ' '\n' | grep . | median); done

# Latency at half of the peer's maximum, the same offered load for every target: 16 connections, each pausing
# DELAY_MS between requests (wrk has no fixed-rate mode; wrk2 is not packaged by Debian).
half=$(( ${max[node-peer]%.*} / 2 ))
delay=$(( 16000 / (half > 0 ? half : 1) )); [ "$delay" -ge 1 ] || delay=1
export DELAY_MS="$delay"
echo "== latency at ~$half req/s offered (16 connections, ${delay} ms pause each), $ROUNDS interleaved rounds"
declare -A lat50 lat99 achieved
for round in $(seq 1 "$ROUNDS"); do
  for target in ours-aot node-peer noop ours-jit; do
    read -r r p50 p99 bad < <(wrk_run "$target" post-paced.lua 16 "$DURATION")
    echo "round $round $target: $r req/s p50 ${p50}us p99 ${p99}us"
    lat50[$target]+="$p50 "; lat99[$target]+="$p99 "; achieved[$target]+="$r "
  done
done
cleanup; pids=()

echo "== cold start: exec -> first successful prediction, $RUNS runs each, interleaved"
cold=$(cd "$bench" && /usr/bin/python3 coldstart.py --runs "$RUNS" --body "$BODY" --key "$KEY" \
  --target "ours-aot disk|7411|$out/aot|$common $disk ASPNETCORE_URLS=http://127.0.0.1:7411|./Pipeline.Serving" \
  --target "ours-aot azurite|7412|$out/aot|$common $azurite ASPNETCORE_URLS=http://127.0.0.1:7412|./Pipeline.Serving" \
  --target "ours-jit disk|7413|$jit|$common $disk ASPNETCORE_URLS=http://127.0.0.1:7413|dotnet Pipeline.Serving.dll" \
  --target "ours-jit azurite|7414|$jit|$common $azurite ASPNETCORE_URLS=http://127.0.0.1:7414|dotnet Pipeline.Serving.dll" \
  --target "node-peer disk|7415|$bench|KEY=$KEY PORT=7415 MODELS_PATH=$out/models|node node-peer/server.js" \
  --target "node-peer azurite|7416|$bench|KEY=$KEY PORT=7416 STORAGE=UseDevelopmentStorage=true|node node-peer/server.js")
echo "$cold"

{
  echo "Run $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores ($(uptime | sed 's/.*load average/load average/')); $ROWS row(s) per request."
  echo
  echo "| Target | Throughput, $CONNECTIONS conn. (median req/s) | p50 at ~$half req/s (µs) | p99 (µs) | achieved req/s |"
  echo "|---|---|---|---|---|"
  for target in ours-aot ours-jit node-peer noop; do
    echo "| $target | ${max[$target]} | $(echo "${lat50[$target]}" | tr ' ' '\n' | grep . | median) | $(echo "${lat99[$target]}" | tr ' ' '\n' | grep . | median) | $(echo "${achieved[$target]}" | tr ' ' '\n' | grep . | median) |"
  done
  echo
  echo '```'
  echo "$cold"
  echo '```'
} | tee "$out/results.md"
