#!/usr/bin/env bash
# The fault suite's long runs (docs/reliability.md). CI runs the same tests small; these run them at full size and print
# the figures they write. Every step has a deadline (the tests' own, and `timeout` here).
#   bash bench/faults/run.sh files [N=10000]              hostile files across every reader, plus the bombs
#   bash bench/faults/run.sh trainer-kills [N=20]         SIGKILL the trainer at N random moments, resume, count versions
#   bash bench/faults/run.sh storage-outage [D=10 F=5 S=15]  stop Azurite for S s during a D×F upload burst and during training
#   bash bench/faults/run.sh soak [MINUTES=10]            predict at half the measured maximum: errors, p99 and RSS per minute
#   bash bench/faults/run.sh worker-memory [ROWS=6000000] every bomb and a ROWS-row CSV through the functions app's worker: its peak RSS per file
# Results go to bench/out/faults-*.json (soak: faults-soak.md).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
out="$root/bench/out"; mkdir -p "$out"
cd "$root"
command="${1:-}"; shift || true

test_run() { # project filter minutes
  dotnet build "$1" --nologo -v quiet >/dev/null
  timeout "$(( $3 * 60 ))" dotnet test "$1" --no-build --filter "FullyQualifiedName~$2" --logger "console;verbosity=normal"
}

case "$command" in
  files)
    export HOSTILE_FILES="${1:-10000}" HOSTILE_FILES_REPORT="$out/faults-files.json"
    test_run tests/Pipeline.Preprocessing.Tests HostileFilesTests 240
    cat "$HOSTILE_FILES_REPORT"
    ;;
  trainer-kills)
    bash scripts/azurite.sh start >/dev/null
    export TRAINER_KILLS="${1:-20}" TRAINER_KILLS_REPORT="$out/faults-trainer-kills.json"
    test_run tests/Pipeline.IntegrationTests Sigkill_AtRandomMoments 120
    cat "$TRAINER_KILLS_REPORT"
    ;;
  worker-memory)
    bash scripts/azurite.sh start >/dev/null
    export WORKER_MEMORY_ROWS="${1:-6000000}" WORKER_MEMORY_REPORT="$out/faults-worker-memory.json"
    dotnet build Serverless.sln --nologo -v quiet >/dev/null # the test starts the functions app's build output
    test_run tests/Pipeline.IntegrationTests WorkerMemoryTests 30
    cat "$WORKER_MEMORY_REPORT"
    ;;
  storage-outage)
    export OUTAGE_DATASETS="${1:-10}" OUTAGE_FILES="${2:-5}" OUTAGE_SECONDS="${3:-15}" STORAGE_OUTAGE_REPORT="$out/faults-storage-outage.json"
    dotnet build Serverless.sln --nologo -v quiet >/dev/null # the local host starts the apps' build outputs
    test_run tests/Pipeline.IntegrationTests StorageOutageTests 60
    cat "$STORAGE_OUTAGE_REPORT"
    ;;
  soak)
    minutes="${1:-10}"; key="soak-function-key-0123456789"; port=7431
    command -v wrk >/dev/null || { echo "wrk is needed: apt-get install -y wrk" >&2; exit 1; }
    bash scripts/azurite.sh start >/dev/null
    dotnet publish functions/Pipeline.Serving -c Release --nologo -v quiet -o "$out/aot" >/dev/null
    dotnet run bench/publish-model.cs -- soak 1 >/dev/null
    export BODY="$out/body-1.json" KEY="$key"
    (cd "$out/aot" && exec env Http__FunctionKey="$key" Logging__LogLevel__Default=Warning Models__Path="$out/models" \
      ASPNETCORE_URLS="http://127.0.0.1:$port" ./Pipeline.Serving >/dev/null 2>&1) &
    app=$!
    trap 'kill $app 2>/dev/null || true' EXIT
    for _ in $(seq 1 200); do curl -sf "http://127.0.0.1:$port/" >/dev/null && break; sleep 0.05; done
    url="http://127.0.0.1:$port/api/models/soak/predict"
    rss() { awk '/VmRSS/ {print $2}' "/proc/$app/status"; }
    wrk -t1 -c8 -d3s -s bench/post.lua "$url" >/dev/null # load the model
    max=$(wrk -t1 -c32 -d10s -s bench/post.lua "$url" | awk '/Requests\/sec/ {printf "%d", $2}')
    # Paced connections, each pausing 2 ms after a response (wrk's delay is whole milliseconds): about max/2 req/s offered.
    delay=2; connections=$(( (max + 500) / 1000 )); [ "$connections" -ge 1 ] || connections=1
    export DELAY_MS="$delay"
    report="$out/faults-soak.md"
    { echo "# Soak: $minutes min at half of $max req/s ($connections connections, ${delay} ms between requests each)"
      echo
      echo "| minute | req/s | p50 (ms) | p99 (ms) | errors | RSS (MB) |"
      echo "|---|---|---|---|---|---|"; } > "$report"
    start_rss=$(rss)
    for minute in $(seq 1 "$minutes"); do
      wrk -t1 -c"$connections" -d60s --latency -s bench/post-paced.lua "$url" | awk -v m="$minute" -v rss="$(rss)" '
        function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
        /Requests\/sec/ {rps=$2} /^ +50%/ {p50=ms($2)} /^ +99%/ {p99=ms($2)} /Non-2xx/ {bad+=$5} /Socket errors/ {bad+=1}
        END {printf "| %d | %.0f | %.2f | %.2f | %d | %.0f |\n", m, rps, p50, p99, bad, rss / 1024}' >> "$report"
    done
    end_rss=$(rss)
    echo >> "$report"
    echo "RSS after warm-up $(( start_rss / 1024 )) MB, at the end $(( end_rss / 1024 )) MB ($(( (end_rss - start_rss) * 100 / start_rss ))%)." >> "$report"
    cat "$report"
    ;;
  *)
    sed -n 2,9p "${BASH_SOURCE[0]}" >&2
    exit 2
    ;;
esac
