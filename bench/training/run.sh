#!/usr/bin/env bash
# Training throughput: the trainer's loop (TorchSharp, libtorch 2.10) vs PyTorch 1.13.1 CPU (Debian python3-torch) on the same
# MLP, batch size and data, in one run. Debian's torch is linked to the reference BLAS by default; the run also measures it
# with OpenBLAS (Debian's libopenblas0-pthread, unpacked into a temp folder and put on LD_LIBRARY_PATH for that process only;
# nothing on the system changes), which is how a careful PyTorch user on Debian would run it.
# Usage: bench/training/run.sh [rounds]   (from anywhere; needs /usr/bin/python3 with python3-torch, and apt-get for OpenBLAS)
# Each round runs the trainers back to back for every configuration in rotating order, so load from elsewhere on the
# machine falls on all of them; the table reports the median samples/s over the rounds (single runs in brackets).
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds="${1:-3}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
dotnet build bench/Pipeline.Benchmarks.Training -c Release -v q -nologo >/dev/null
ours=artifacts/bin/Pipeline.Benchmarks.Training/release_linux-x64/Pipeline.Benchmarks.Training
openblas=""
if (cd "$work" && apt-get download libopenblas0-pthread >/dev/null 2>&1 && dpkg -x libopenblas0-pthread_*.deb root); then
  openblas="$(dirname "$(find "$work/root" -name libblas.so.3 | head -1)")"
fi
speed() { /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["samplesPerSecond"])'; }
run() { # runner data features classes hidden batch epochs
  local runner="$1"; shift
  case "$runner" in
    ours) "$ours" "$@" | speed ;;
    torch) (cd / && /usr/bin/python3 "$OLDPWD/bench/training/torch_mlp.py" train "$@") | speed ;;
    torch-openblas) (cd / && OPENBLAS_NUM_THREADS=1 LD_LIBRARY_PATH="$openblas" /usr/bin/python3 "$OLDPWD/bench/training/torch_mlp.py" train "$@") | speed ;;
  esac
}
runners=(torch ours)
[[ -n "$openblas" ]] && runners+=(torch-openblas)
# name features classes hidden batch epochs train-rows
configs=(
  "20-64-64-3,b64   20 3 64,64    64  5 20000"
  "20-64-64-3,b256  20 3 64,64   256  5 20000"
  "32-256-256-5,b64 32 5 256,256  64  2 20000"
)
echo "| MLP, batch | PyTorch 1.13.1 (reference BLAS) | PyTorch 1.13.1 + OpenBLAS | TorchSharp trainer | ours ÷ best PyTorch |"
echo "|---|---|---|---|---|"
for config in "${configs[@]}"; do
  read -r name features classes hidden batch epochs rows <<<"$config"
  data="$work/$name.bin"
  (cd / && /usr/bin/python3 "$OLDPWD/bench/training/torch_mlp.py" write "$data" "$rows" 2000 "$features" "$classes")
  declare -A results=([torch]="" [ours]="" [torch-openblas]="")
  for ((i = 0; i < rounds; i++)); do
    for ((j = 0; j < ${#runners[@]}; j++)); do
      runner="${runners[$(((i + j) % ${#runners[@]}))]}"
      results[$runner]+="$(run "$runner" "$data" "$features" "$classes" "$hidden" "$batch" "$epochs") "
    done
  done
  /usr/bin/python3 - "$name" "${results[torch]}" "${results[torch-openblas]}" "${results[ours]}" <<'PY'
import statistics, sys
name, columns = sys.argv[1], [[float(v) for v in c.split()] for c in sys.argv[2:]]
def cell(values): return f"{statistics.median(values):,.0f} ({', '.join(f'{v:,.0f}' for v in values)})" if values else "n/a"
best = max(statistics.median(c) for c in columns[:2] if c)
print(f"| {name} | {cell(columns[0])} | {cell(columns[1])} | {cell(columns[2])} | {statistics.median(columns[2]) / best:.2f}× |")
PY
done
