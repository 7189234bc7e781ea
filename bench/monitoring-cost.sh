#!/usr/bin/env bash
# What the prediction log costs the warm path (docs/monitoring.md): the Native AOT serving app against Azurite, three
# instances of the same build and model — logging off, logging at its defaults, logging every request — loaded in turn
# with wrk, interleaved rounds. Prints each instance's median requests/s, its change against "off" in each round and
# the median change, and the "all" instance's monitoring counters (recorded, dropped, written).
#   bash bench/monitoring-cost.sh            (ROUNDS=3 CONNECTIONS=32 DURATION=10 ROWS=1 to change)
# Needs wrk (apt-get install wrk); starts Azurite if none answers. Not part of the test suite.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bench="$root/bench"; out="$bench/out"
ROUNDS="${ROUNDS:-3}"; CONNECTIONS="${CONNECTIONS:-32}"; DURATION="${DURATION:-10}"; ROWS="${ROWS:-1}"
KEY="bench-function-key-0123456789"
cd "$root"
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install -y wrk" >&2; exit 1; }
bash scripts/azurite.sh start >/dev/null
dotnet publish functions/Pipeline.Serving -c Release --nologo -v quiet -o "$out/aot" >/dev/null
dotnet run bench/publish-model.cs -- bench "$ROWS" >/dev/null
export BODY="$out/body-$ROWS.json" KEY

common="Http__FunctionKey=$KEY Logging__LogLevel__Default=Warning Storage__ConnectionString=UseDevelopmentStorage=true"
declare -A port=([off]=7441 [default]=7442 [all]=7443)
declare -A settings=(
  [off]="Monitoring__Enabled=false"
  [default]=""
  [all]="Monitoring__RowsPerSecond=0 Monitoring__SampleRate=1"
)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT
for target in off default all; do
  (cd "$out/aot" && exec env $common ${settings[$target]} ASPNETCORE_URLS="http://127.0.0.1:${port[$target]}" ./Pipeline.Serving >/dev/null 2>&1) &
  pids+=("$!")
  ready=0
  for _ in $(seq 1 200); do curl -sf "http://127.0.0.1:${port[$target]}/" >/dev/null && { ready=1; break; }; sleep 0.05; done
  [ "$ready" = 1 ] || { echo "the $target instance did not start" >&2; exit 1; }
  wrk -t1 -c8 -d3s -s "$bench/post.lua" "http://127.0.0.1:${port[$target]}/api/models/bench/predict" >/dev/null # load the model
done

declare -A rps
for round in $(seq 1 "$ROUNDS"); do
  for target in off default all; do
    r=$(wrk -t1 -c"$CONNECTIONS" -d"$DURATION"s -s "$bench/post.lua" "http://127.0.0.1:${port[$target]}/api/models/bench/predict" |
      awk '/Non-2xx/ {bad=$5} /Requests\/sec/ {rps=$2} END {if (bad > 0) print "bad"; else printf "%.0f", rps}')
    [ "$r" != bad ] || { echo "$target answered non-2xx responses" >&2; exit 1; }
    echo "round $round $target: $r req/s"
    rps[$target]+="$r "
  done
done
median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
echo "Run $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores ($(uptime | sed 's/.*load average/load average/')); $ROWS row(s) per request, $CONNECTIONS connections."
read -ra offs <<< "${rps[off]}"
for target in off default all; do
  read -ra these <<< "${rps[$target]}"
  # Each round's change against "off" in the same round (seconds apart), then the median over rounds.
  changes=""
  for i in "${!these[@]}"; do changes+="$(awk -v a="${these[$i]}" -v b="${offs[$i]}" 'BEGIN {printf "%.2f", (a - b) * 100 / b}') "; done
  printf "%-8s median %s req/s; change against off, per round: %s-> median %+.1f%%\n" "$target" "$(echo "${rps[$target]}" | median)" "$changes" "$(echo "$changes" | median)"
done
echo "all: $(curl -sf -H "x-functions-key: $KEY" "http://127.0.0.1:${port[all]}/api/health/details" | /usr/bin/python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin).get("monitoring")))')"
