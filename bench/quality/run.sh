#!/usr/bin/env bash
# Quality benchmark: real datasets from Debian packages, trained through the preprocess handler and the training job
# (production defaults) on seeded splits, against the scikit-learn model 5-fold CV picks on the same rows.
#   bash bench/quality/run.sh [seeds, default 1,2,3] [datasets, default all]
# Needs: Azurite on 127.0.0.1:10000 (bash scripts/azurite.sh start), /usr/bin/python3 with python3-sklearn, and Rscript
# with r-cran-mass and r-cran-cardata (apt-get install r-base-core r-cran-mass r-cran-cardata).
# Speed: dotnet <bench dll> speed --rows 100000 (and --rows 1000).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
seeds="${1:-1,2,3}"
only="${2:-}"
out="${QUALITY_OUT:-$root/artifacts/quality}"
rm -rf "$out" && mkdir -p "$out"
/usr/bin/python3 "$root/bench/quality/datasets.py" export "$out/datasets"
dotnet build "$root/bench/Pipeline.Benchmarks.Quality" -c Release -v q -nologo
bench="$root/artifacts/bin/Pipeline.Benchmarks.Quality/release_linux-x64/Pipeline.Benchmarks.Quality.dll"
# Every stage has a deadline: each training run stops after 10 minutes (inside the tool), the whole side after 3 hours.
timeout 3h dotnet "$bench" quality "$out/datasets" "$out" --seeds "$seeds" ${only:+--only "$only"}
timeout 1h /usr/bin/python3 "$root/bench/quality/peer.py" score "$out/splits" > "$out/peer.json"
/usr/bin/python3 "$root/bench/quality/report.py" "$out"
