#!/usr/bin/env bash
# Runs the whole pipeline on this machine: Azurite, the serving app (HTTP API, a custom handler) on
# http://127.0.0.1:7071, the functions app's isolated worker (Preprocess) driven over the Functions host's gRPC protocol
# by the local host stand-in, the Event Grid stand-in, and one training worker.
# Ctrl+C stops everything but Azurite (scripts/azurite.sh stop).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$root"
bash scripts/azurite.sh start
dotnet build Serverless.sln -c Release --nologo -v quiet
exec dotnet artifacts/bin/Pipeline.LocalHost/release_linux-x64/Pipeline.LocalHost.dll \
  --LocalHost:FunctionsAppPath="$root/artifacts/bin/Pipeline.Functions/release_linux-x64" \
  --LocalHost:ServingAppPath="$root/artifacts/bin/Pipeline.Serving/release_linux-x64" \
  --LocalHost:TrainerPath="$root/artifacts/bin/Pipeline.Trainer/release_linux-x64/Pipeline.Trainer"
