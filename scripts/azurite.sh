#!/usr/bin/env bash
# Starts Azurite (the Azure Storage emulator, installed from npm by this project) on loopback, unless one already answers.
#   scripts/azurite.sh start [data-dir]   start in the background, wait until blob and queue ports answer
#   scripts/azurite.sh stop               stop the one this script started
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cmd="${1:-start}"
data="${2:-$root/.azurite}"
pidfile="$root/.azurite.pid"

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

case "$cmd" in
  start)
    if port_open 10000 && port_open 10001; then
      echo "Azurite already answers on 127.0.0.1:10000/10001."
      exit 0
    fi
    if [ ! -x "$root/node_modules/.bin/azurite" ]; then
      (cd "$root" && npm ci --no-audit --no-fund --loglevel=error)
    fi
    mkdir -p "$data"
    # --skipApiVersionCheck: today's Azure.Storage SDKs send a newer service version than Azurite 3.35 knows.
    nohup "$root/node_modules/.bin/azurite" --silent --location "$data" \
      --blobHost 127.0.0.1 --queueHost 127.0.0.1 --tableHost 127.0.0.1 \
      --skipApiVersionCheck --disableTelemetry >"$data/azurite.log" 2>&1 &
    echo $! >"$pidfile"
    for _ in $(seq 1 100); do
      if port_open 10000 && port_open 10001; then
        echo "Azurite started (pid $(cat "$pidfile")), data in $data."
        exit 0
      fi
      sleep 0.2
    done
    echo "Azurite did not start; see $data/azurite.log" >&2
    exit 1
    ;;
  stop)
    if [ -f "$pidfile" ]; then
      pid="$(cat "$pidfile")"
      kill "$pid" 2>/dev/null || true
      # Wait until it has exited (up to 10 s): it may still be writing to its data folder, which callers then delete.
      for _ in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.2
      done
      rm -f "$pidfile"
    fi
    ;;
  *)
    echo "usage: $0 start [data-dir] | stop" >&2
    exit 2
    ;;
esac
