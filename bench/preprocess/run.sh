#!/usr/bin/env bash
# Preprocessing benchmark: our preprocess (Native AOT as deployed, both passes, Parquet splits written) against pandas 1.5.3
# (read_csv + describe) on the same generated files, each tool in its own process, one after the other.
# Usage: bench/preprocess/run.sh [data-folder] [sizes in MB...]   (default: /tmp/preprocess-bench, 100 1024)
# Prints one JSON line per run and a Markdown table (docs/benchmarks.md, "Preprocessing"). "Wall s" is what each tool
# times itself (ours: the whole build; pandas: read_csv + describe, after `import pandas`); "Process wall s" is the
# whole process, start-up included, timed by this script. Ours runs twice: in a fresh process (the ratio reported
# first) and as "(warm)", timing a second build in a process that has built the file once.
set -euo pipefail
cd "$(dirname "$0")/../.."
data="${1:-/tmp/preprocess-bench}"
shift || true
sizes=("${@:-100 1024}")
read -r -a sizes <<< "${sizes[*]}"
mkdir -p "$data"

# Published with Native AOT, as the function app is deployed.
dotnet publish bench/Pipeline.Benchmarks.Preprocess -c Release -v quiet -nologo >/dev/null
bench=artifacts/publish/Pipeline.Benchmarks.Preprocess/release_linux-x64/Pipeline.Benchmarks.Preprocess
results="$data/results.jsonl"
: > "$results"
for size in "${sizes[@]}"; do
  file="$data/mixed-${size}mb.csv"
  [[ -f "$file" ]] || "$bench" generate "$file" "$size" >&2
  # Each tool's own line, plus the whole process's wall time (start-up, imports and JIT included) measured here.
  start=$(date +%s.%N); line=$("$bench" run "$file" "$data/work"); end=$(date +%s.%N)
  echo "${line%\}},\"processSeconds\":$(awk "BEGIN { printf \"%.3f\", $end - $start }")}" | tee -a "$results"
  # The same build in a process that has built the file once already (a function host kept warm: no JIT left to pay).
  start=$(date +%s.%N); line=$("$bench" run "$file" "$data/work" warm); end=$(date +%s.%N)
  echo "${line%\}},\"processSeconds\":$(awk "BEGIN { printf \"%.3f\", $end - $start }")}" | tee -a "$results"
  start=$(date +%s.%N); line=$(/usr/bin/python3 bench/preprocess/pandas_baseline.py "$file"); end=$(date +%s.%N)
  echo "${line%\}}, \"processSeconds\": $(awk "BEGIN { printf \"%.3f\", $end - $start }")}" | tee -a "$results"
done

/usr/bin/python3 - "$results" <<'PY'
import json, sys
runs = [json.loads(line) for line in open(sys.argv[1])]
print()
print("| File | Tool | Wall s | Process wall s | CPU s | MB/s | Peak RSS MB |")
print("|---|---|---:|---:|---:|---:|---:|")
for r in runs:
    print(f"| {r['megabytes']:.0f} MB | {r['tool']} | {r['seconds']} | {r['processSeconds']:.2f} | {r['cpuSeconds']} | {r['mbPerSecond']} | {r['peakRssMb']} |")
by_file = {}
for r in runs:
    kind = "pandas" if r["tool"].startswith("pandas") else "warm" if r["tool"].endswith("(warm)") else "ours"
    by_file.setdefault(r["file"], {})[kind] = r
print()
for f, tools in by_file.items():
    if "ours" in tools and "pandas" in tools:
        o, p = tools["ours"], tools["pandas"]
        warm = f"; warm host {tools['warm']['mbPerSecond'] / p['mbPerSecond']:.2f}x" if "warm" in tools else ""
        print(f"{o['megabytes']:.0f} MB: throughput {o['mbPerSecond'] / p['mbPerSecond']:.2f}x pandas "
              f"({p['processSeconds'] / o['processSeconds']:.2f}x by whole-process wall time{warm}), peak memory {o['peakRssMb'] / p['peakRssMb']:.2f}x pandas")
PY
