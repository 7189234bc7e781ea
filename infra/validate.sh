#!/usr/bin/env bash
# Offline validation of the infrastructure: restores the Bicep CLI from NuGet (through the infra test project),
# compiles infra/main.bicep and every module to ARM JSON, and lints every .bicep file with infra/bicepconfig.json.
# Fails on any error and on any warning. Usage: bash infra/validate.sh
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
project="$root/tests/Pipeline.Infra.Tests/Pipeline.Infra.Tests.csproj"

dotnet restore "$project" --verbosity quiet >/dev/null
bicep="$(dotnet msbuild "$project" -getProperty:BicepCliPath)"
if [[ ! -f "$bicep" ]]; then
  echo "validate: Bicep CLI not found at '$bicep' after restoring $project" >&2
  exit 1
fi
[[ -x "$bicep" ]] || chmod u+x "$bicep"
echo "validate: $("$bicep" --version)"

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

failed=0
check() {
  # Runs a bicep command; any diagnostic it prints (error or warning) fails the validation.
  local log="$out/log"
  if ! "$bicep" "$@" >"$log" 2>&1; then
    failed=1
  fi
  if [[ -s "$log" ]] && grep -Eq '(Error|Warning) ' "$log"; then
    failed=1
  fi
  cat "$log"
}

check build "$root/infra/main.bicep" --outfile "$out/main.json"
while IFS= read -r -d '' file; do
  check lint "$file"
done < <(find "$root/infra" -name '*.bicep' -print0 | sort -z)

if [[ "$failed" -ne 0 ]]; then
  echo "validate: FAILED" >&2
  exit 1
fi
echo "validate: main.bicep builds ($(wc -c <"$out/main.json") bytes of ARM JSON); all .bicep files lint clean"
