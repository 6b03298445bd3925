"""What a deployment served while it ran, read back from the store's request log: the figures its
card shows once the process is gone (requests, error rate, latency, versions, last request, stop)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Served:
    """One deployment's traffic from its start to its stop (or to now)."""

    requests: int
    exact: bool  # False: counted from every k-th request of a long log, scaled back
    error_rate: float | None  # share of answers with a 5xx or 4xx status
    latency_p50: float | None  # ms
    latency_p95: float | None
    versions: list[int]
    last_request_at: float | None
    stopped_at: float | None

    @property
    def count_text(self) -> str:
        """The number of requests, ``about`` when it was counted from a sample."""
        return f"{self.requests:,}" if self.exact else f"about {self.requests:,}"

    @property
    def versions_text(self) -> str:
        return ", ".join(f"v{v}" for v in self.versions) or "–"


def served(store, name: str) -> Served | None:
    """``name``'s traffic while its newest serving process ran, or None if it was never deployed."""
    record = store.deployment(name)
    if record is None:
        return None
    rows, step = store.request_rows(name, since=record.started_at, until=record.stopped_at)
    if not len(rows):
        return Served(0, True, None, None, None, [], None, record.stopped_at)
    latency = rows["latency_ms"].astype(float)
    return Served(
        requests=len(rows) * step,
        exact=step == 1,
        error_rate=float((rows["status_code"] >= 400).mean()),
        latency_p50=float(latency.quantile(0.5)),
        latency_p95=float(latency.quantile(0.95)),
        versions=sorted(int(v) for v in rows["version"].dropna().unique()),
        last_request_at=float(rows["time"].max()),
        stopped_at=record.stopped_at,
    )
