#!/usr/bin/env bash
# Preprocessing benchmark: our preprocess engine (Native AOT, both passes, Parquet splits written) against pandas 1.5.3
# (read_csv + describe) on the same generated files, each tool in its own process, one after the other.
# Usage: [ROUNDS=3] bench/preprocess/run.sh [data-folder] [sizes in MB...]   (default: /tmp/preprocess-bench, 100 1024)
# Each round runs, per file: the speed probe below, ours, ours "(warm)", pandas. Ratios are taken within a round (the
# tools ran back to back) and summarized as the median over the rounds with the range. Prints one JSON line per run and
# a Markdown table (docs/benchmarks.md, "Preprocessing"). "Wall s" is what each tool times itself (ours: the whole
# build; pandas: read_csv + describe, after `import pandas`); "Process wall s" is the whole process, start-up included,
# timed by this script. "(warm)" times a second build in a process that has built the file once. The probe times the
# same in-cache parsing work pinned to each core in turn, then on all cores at once: on a shared host one core can run
# slower than the other for minutes at a time, which slows our multi-core build more than single-threaded pandas (see
# docs/benchmarks.md; contention for shared cache or memory does not show in it).
set -euo pipefail
cd "$(dirname "$0")/../.."
data="${1:-/tmp/preprocess-bench}"
shift || true
sizes=("${@:-100 1024}")
read -r -a sizes <<< "${sizes[*]}"
rounds="${ROUNDS:-3}"
mkdir -p "$data"

# Published with Native AOT: the engine's best case (the deployed isolated worker runs it under the JIT, ReadyToRun).
dotnet publish bench/Pipeline.Benchmarks.Preprocess -c Release -v quiet -nologo >/dev/null
bench=artifacts/publish/Pipeline.Benchmarks.Preprocess/release_linux-x64/Pipeline.Benchmarks.Preprocess
results="$data/results.jsonl"
: > "$results"

# Appends the round and the whole process's wall time (start-up, imports included) to a tool's JSON line.
timed() {
  local round=$1; shift
  local start end line
  start=$(date +%s.%N); line=$("$@"); end=$(date +%s.%N)
  echo "${line%\}},\"round\":$round,\"processSeconds\":$(awk "BEGIN { printf \"%.3f\", $end - $start }")}" | tee -a "$results"
}

for size in "${sizes[@]}"; do
  file="$data/mixed-${size}mb.csv"
  [[ -f "$file" ]] || "$bench" generate "$file" "$size" >&2
  for round in $(seq "$rounds"); do
    for cpu in $(seq 0 $(($(nproc) - 1))) all; do
      if [[ $cpu == all ]]; then line=$("$bench" probe "$(nproc)"); else line=$(taskset -c "$cpu" "$bench" probe); fi
      echo "${line%\}},\"file\":\"$file\",\"round\":$round,\"cpu\":\"$cpu\"}" | tee -a "$results"
    done
    timed "$round" "$bench" run "$file" "$data/work"
    timed "$round" "$bench" run "$file" "$data/work" warm
    timed "$round" /usr/bin/python3 bench/preprocess/pandas_baseline.py "$file"
  done
done

/usr/bin/python3 - "$results" <<'PY'
import json, statistics, sys
runs = [json.loads(line) for line in open(sys.argv[1])]
tools = [r for r in runs if r["tool"] != "probe"]
print()
print("| File | Round | Tool | Wall s | Process wall s | CPU s | MB/s | Peak RSS MB |")
print("|---|---:|---|---:|---:|---:|---:|---:|")
for r in tools:
    print(f"| {r['megabytes']:.0f} MB | {r['round']} | {r['tool']} | {r['seconds']} | {r['processSeconds']:.2f} | {r['cpuSeconds']} | {r['mbPerSecond']} | {r['peakRssMb']} |")

rounds = {}
for r in runs:
    kind = "probe" if r["tool"] == "probe" else "pandas" if r["tool"].startswith("pandas") else "warm" if r["tool"].endswith("(warm)") else "ours"
    entry = rounds.setdefault((r["file"], r["round"]), {})
    if kind == "probe":
        entry.setdefault("probe", []).append(r)
    else:
        entry[kind] = r

def spread(values):
    return f"median {statistics.median(values):.2f}x ({min(values):.2f}-{max(values):.2f}x)"

print()
for f in dict.fromkeys(k[0] for k in rounds):
    done = [t for (g, _), t in sorted(rounds.items()) if g == f and "ours" in t and "pandas" in t]
    if not done:
        continue
    throughput = [t["ours"]["mbPerSecond"] / t["pandas"]["mbPerSecond"] for t in done]
    process = [t["pandas"]["processSeconds"] / t["ours"]["processSeconds"] for t in done]
    warm = [t["warm"]["mbPerSecond"] / t["pandas"]["mbPerSecond"] for t in done if "warm" in t]
    memory = [t["ours"]["peakRssMb"] / t["pandas"]["peakRssMb"] for t in done]
    # Per round: how much slower the slowest core is than the fastest alone, and how many cores' worth of parsing all the
    # cores together did (2.0 when two cores do not slow each other).
    cores = []
    for t in done:
        alone = [p["seconds"] for p in t.get("probe", []) if p["threads"] == 1]
        together = [p for p in t.get("probe", []) if p["threads"] > 1]
        if alone and together:
            cores.append(f"{max(alone) / min(alone):.2f}/{together[0]['threads'] * statistics.mean(alone) / together[0]['seconds']:.2f}")
    print(f"{done[0]['ours']['megabytes']:.0f} MB, {len(done)} rounds: throughput {spread(throughput)} pandas "
          f"(by whole-process wall time {spread(process)}; warm host {spread(warm) if warm else 'not run'}), "
          f"peak memory {spread(memory)} pandas; per round, slowest/fastest core alone and cores' worth of work "
          f"all cores did together: {' '.join(cores)}")
PY
