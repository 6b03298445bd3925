"""Service health per window: requests, error rate and latency percentiles from the request log."""

from __future__ import annotations

import numpy as np

HEALTH_COLUMNS = ["window", "start", "end", "requests", "errors", "error_rate", "latency_p50", "latency_p95", "latency_p99"]


def health_windows(requests, bounds, step: int = 1):
    """One row per window of ``bounds`` (window, start, end as epoch seconds, start exclusive).

    ``requests`` has time, status_code and latency_ms; an error is a status of 400 or more. When the
    store sampled every ``step``-th request, counts are scaled back by ``step`` (and so estimates).
    """
    import pandas as pd

    rows = []
    times = requests["time"].to_numpy(dtype=float)
    for window, start, end in bounds:
        inside = (times > start) & (times <= end)
        status = requests["status_code"].to_numpy()[inside]
        latency = requests["latency_ms"].to_numpy(dtype=float)[inside]
        n, errors = int(inside.sum()), int((status >= 400).sum())
        p50, p95, p99 = np.percentile(latency, [50, 95, 99]) if n else (np.nan,) * 3
        rows.append((window, start, end, n * step, errors * step, errors / n if n else np.nan, p50, p95, p99))
    frame = pd.DataFrame(rows, columns=HEALTH_COLUMNS)
    for column in ("start", "end"):
        frame[column] = pd.to_datetime(frame[column].astype(float), unit="s", utc=True)
    frame["sampled"] = step > 1
    return frame
