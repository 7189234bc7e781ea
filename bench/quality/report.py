#!/usr/bin/python3
"""Joins the trainer's results (ours.json) with the peer's (peer.json) into the markdown table of docs/benchmarks.md.

Usage: report.py <out>     reads <out>/ours.json and <out>/peer.json; prints per dataset the mean over seeds of our
                           served model's test metric, the peer's, and the gap (ours - peer), then the averages.
"""
import json
import os
import sys
from collections import defaultdict


def main(out):
    ours = json.load(open(os.path.join(out, "ours.json")))
    peer = json.load(open(os.path.join(out, "peer.json")))
    by_dataset = defaultdict(list)
    for row in ours:
        by_dataset[row["dataset"]].append(row)
    print("| Dataset | Task | Seeds | Features (encoded) | Ours (mean) | Peer (mean) | Gap | Worst seed gap | Our families | Peer picks | Our train s (mean) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    gaps = []
    for name in sorted(by_dataset):
        rows = [r for r in by_dataset[name] if "ours" in r and r["run"] in peer]
        failed = [r for r in by_dataset[name] if "error" in r]
        if not rows:
            print(f"| {name} | | | | failed: {failed[0]['error'] if failed else 'no peer result'} | | | | | | |")
            continue
        ours_mean = sum(r["ours"] for r in rows) / len(rows)
        peer_mean = sum(peer[r["run"]]["test"] for r in rows) / len(rows)
        worst = min(r["ours"] - peer[r["run"]]["test"] for r in rows)
        gaps.append(ours_mean - peer_mean)
        families = ", ".join(sorted({r["family"] for r in rows}))
        picks = ", ".join(sorted({peer[r["run"]]["picked"] for r in rows}))
        task = rows[0]["task"] + (" (accuracy)" if rows[0]["metric"] == "accuracy" else " (r2)")
        seconds = sum(r["trainSeconds"] for r in rows) / len(rows)
        print(f"| {name} | {task} | {len(rows)} | {rows[0]['features']} | {ours_mean:.4f} | {peer_mean:.4f} | {ours_mean - peer_mean:+.4f} | {worst:+.4f} | {families} | {picks} | {seconds:.1f} |")
    if gaps:
        print()
        print(f"Mean gap over {len(gaps)} datasets: {sum(gaps) / len(gaps):+.4f}; smallest dataset gap: {min(gaps):+.4f}; "
              f"datasets more than 0.02 behind: {sum(g < -0.02 for g in gaps)}.")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
