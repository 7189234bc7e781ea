"""pandas baseline for the preprocessing benchmark: read_csv + describe on the same file, one JSON line out.

Run with Debian's interpreter (pandas 1.5.3): /usr/bin/python3 bench/preprocess/pandas_baseline.py FILE
"""
import json
import os
import resource
import sys
import time

import pandas as pd

path = sys.argv[1]
start = time.perf_counter()
frame = pd.read_csv(path)
summary = frame.describe()
seconds = time.perf_counter() - start
megabytes = os.path.getsize(path) / 1048576
usage = resource.getrusage(resource.RUSAGE_SELF)
cpu = usage.ru_utime + usage.ru_stime
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes
print(json.dumps({
    "tool": "pandas " + pd.__version__,
    "file": path,
    "megabytes": round(megabytes, 1),
    "seconds": round(seconds, 2),
    "cpuSeconds": round(cpu, 2),
    "mbPerSecond": round(megabytes / seconds, 1),
    "peakRssMb": round(peak),
    "rows": len(frame),
    "describedColumns": summary.shape[1],
}))
