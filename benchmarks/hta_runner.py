"""Run Holistic Trace Analysis on one folder of traces (executed by HTA's own Python).

Prints one JSON line: load and overlap wall times and the per-rank overlap %.
Used by benchmarks/bench.py (which measures this process's wall time and peak
RSS from outside) and by docs/hta-comparison.md.

    $HTA_PYTHON benchmarks/hta_runner.py TRACE_DIR
"""

import json
import logging
import sys
import time

logging.disable(logging.WARNING)

from hta.trace_analysis import TraceAnalysis  # noqa: E402


def main() -> None:
    trace_dir = sys.argv[1]
    t0 = time.perf_counter()
    analysis = TraceAnalysis(trace_dir=trace_dir)
    t1 = time.perf_counter()
    df = analysis.get_comm_comp_overlap(visualize=False)
    t2 = time.perf_counter()
    overlap = {str(int(r["rank"])): float(r["comp_comm_overlap_pctg"]) for _, r in df.iterrows()}
    print(json.dumps({"load_s": t1 - t0, "overlap_s": t2 - t1, "overlap_pct": overlap}))


if __name__ == "__main__":
    main()
