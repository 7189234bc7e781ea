#!/usr/bin/python3
"""Cold start: exec -> first successful prediction, for several server commands, interleaved run by run.

    coldstart.py --runs 10 --body out/body-1.json --key KEY --model bench \
        --target 'name|port|cwd|ENV=1 ENV2=2|command args...' [--target ...]

Each run starts the command, POSTs the body to /api/models/<model>/predict as fast as connections are accepted, and
records the time from just before exec to the first 200, the CPU time the process had used by then (sum of its threads'
/proc schedstat: less sensitive than wall time to other load on the machine), and its peak resident memory (VmHWM).
Prints one line per target: median, min and max over the runs. Standard library only (Debian's python3).
"""
import argparse, http.client, os, shlex, signal, statistics, subprocess, sys, time

# A server that never answers 200 (a broken mode answers 500 forever) fails the run instead of hanging the benchmark.
DEADLINE_SECONDS = 60

def one_run(port, cwd, env, command, body, key, model):
    headers = {"content-type": "application/json", "x-functions-key": key}
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    last_status = None
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{command[0]} exited with {process.returncode} before answering")
            if time.perf_counter() - start > DEADLINE_SECONDS:
                raise RuntimeError(f"{command[0]} gave no 200 within {DEADLINE_SECONDS} s (last status {last_status})")
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                connection.request("POST", f"/api/models/{model}/predict", body=body, headers=headers)
                response = connection.getresponse()
                response.read()
                connection.close()
                last_status = response.status
                if response.status == 200:
                    elapsed = time.perf_counter() - start
                    break
                time.sleep(0.001)
            except (ConnectionRefusedError, ConnectionResetError, http.client.RemoteDisconnected):
                time.sleep(0.0005)
        cpu = 0
        for task in os.listdir(f"/proc/{process.pid}/task"):
            try:
                with open(f"/proc/{process.pid}/task/{task}/schedstat") as schedstat:
                    cpu += int(schedstat.read().split()[0])
            except FileNotFoundError:
                pass  # the thread ended meanwhile
        peak = 0
        with open(f"/proc/{process.pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    peak = int(line.split()[1]) / 1024
        return elapsed * 1000, cpu / 1e6, peak
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--body", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--model", default="bench")
    parser.add_argument("--target", action="append", required=True)
    args = parser.parse_args()
    body = open(args.body, "rb").read()
    targets = []
    for spec in args.target:
        name, port, cwd, env_text, command = spec.split("|", 4)
        env = dict(os.environ)
        env.update(dict(item.split("=", 1) for item in shlex.split(env_text)))
        targets.append((name, int(port), cwd, env, shlex.split(command)))
    results = {name: [] for name, *_ in targets}
    for _ in range(args.runs):
        for name, port, cwd, env, command in targets:
            results[name].append(one_run(port, cwd, env, command, body, args.key, args.model))
    for name, samples in results.items():
        times = [t for t, _, _ in samples]
        cpus = [c for _, c, _ in samples]
        peaks = [p for _, _, p in samples]
        print(f"{name:<22} median {statistics.median(times):7.1f} ms  min {min(times):7.1f}  max {max(times):7.1f}  "
              f"CPU median {statistics.median(cpus):7.1f} ms  peak RSS median {statistics.median(peaks):6.1f} MB  (n={len(times)})")

if __name__ == "__main__":
    sys.exit(main())
