#!/usr/bin/env bash
# The project's one test command: starts a fresh Azurite on loopback (unless one already answers on 10000/10001),
# publishes both function apps as deployed and packs the CLI tool, runs every test project of Serverless.sln against Azurite,
# validates the Bicep templates offline, and stops Azurite.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

if ! /usr/bin/python3 -c "import onnx, sklearn" 2>/dev/null; then
  echo "The ONNX checker and quality-bar tests need Debian's python3-onnx and python3-sklearn: apt-get install -y python3-onnx python3-sklearn" >&2
  exit 1
fi
if ! { command -v cc >/dev/null && [ -e /usr/include/zlib.h ]; }; then
  echo "Publishing the serving app with Native AOT needs a C toolchain and zlib1g-dev: apt-get install -y gcc zlib1g-dev" >&2
  exit 1
fi

if [ ! -x /usr/bin/chromium ]; then
  echo "The web console's browser tests need Debian's chromium: apt-get install -y chromium" >&2
  exit 1
fi

data="$(mktemp -d)"
started=0
if ! (exec 3<>/dev/tcp/127.0.0.1/10000) 2>/dev/null; then
  bash scripts/azurite.sh start "$data"
  started=1
fi
cleanup() {
  if [ "$started" = 1 ]; then bash scripts/azurite.sh stop; fi
  rm -rf "$data"
}
trap cleanup EXIT

# Both function apps as azd packages them: the preprocessing app (isolated worker) and the serving app (Native AOT).
# DeployPackageTests check what the Flex host needs at each package's root, and the published worker runs an upload.
# The serving app must publish without trim/AOT warnings from any assembly.
publish_log="$(mktemp)"
for app in functions/Pipeline.Functions functions/Pipeline.Serving; do
  if ! dotnet publish "$app" -c Release --nologo -v minimal > "$publish_log" 2>&1; then
    cat "$publish_log" >&2
    exit 1
  fi
  if grep -E "warning IL[0-9]+" "$publish_log" | grep -q .; then
    grep -E "warning IL[0-9]+" "$publish_log" >&2
    echo "$app reports trim/AOT warnings in its publish (see above)." >&2
    exit 1
  fi
done

# The CLI as docs/cli.md installs it: PackedToolTests install this package with `dotnet tool install` and run it.
rm -rf artifacts/tool
if ! dotnet pack tools/Pipeline.Cli -c Release -o artifacts/tool --nologo -v quiet > "$publish_log" 2>&1; then
  cat "$publish_log" >&2
  exit 1
fi

# The benchmark projects are in Serverless.sln and build with it; the file-based model publisher of bench/run.sh too.
if ! dotnet build bench/publish-model.cs -c Release --nologo -v quiet > "$publish_log" 2>&1; then
  cat "$publish_log" >&2
  exit 1
fi
rm -f "$publish_log"

# The benchmark and fault-suite scripts are run by hand; CI checks that they parse.
for script in bench/*.sh bench/faults/*.sh; do
  bash -n "$script"
done

log="$(mktemp)"
set +e
dotnet test Serverless.sln -c Release --nologo 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e

# One plain summary line over all test assemblies.
awk -F'[:,]' '/(Passed|Failed)! +- +Failed:/ { failed += $2; passed += $4 } END { printf "%d passed, %d failed\n", passed, failed }' "$log"
rm -f "$log"
[ "$status" -eq 0 ] || exit "$status"

bash infra/validate.sh
