"""The closed loop on wine: reaction time, serving while a job trains, and the accuracy it recovers.

    python benchmarks/bench_loop.py [--rounds 3] [--baseline-seconds 10] [--quick]

Each round, in a fresh temporary store: a random forest trained in a ``%%mlops_train`` cell of a real
IPython shell (so it has a recipe), promoted to ``production`` and served with ``mm.serve``, which
starts the model's watcher (default interval, 5 s); the policy of tutorial 04 (accuracy below 0.85
over 100 predictions, 80+ labelled, retrain, gate ``accuracy >= 0.88``) and its stream: 100 healthy
wines with their labels, then 4 client threads sending 1-row requests throughout: first
``--baseline-seconds`` with no job, then 200 wines as recalibrated sensors read them (one request)
and their labels (one ``/feedback`` call).

Figures: the reaction time, from the moment ``/feedback`` has returned (the labelled window that crosses
the threshold is in the store) to the first client answer from the retrained version, with its
timeline from the lineage events; failed requests (non-200 or no answer) over the whole round; the
p99 latency of the requests sent while the job ran (the job row's start to end) against the p99 of
the baseline; and, on 100 fresh drifted wines after the swap, the realised accuracy of the retrained
version against the champion's on the same rows. A round where version 2 never answers within
``--timeout`` is printed as such (with the jobs and the threshold alerts recorded meanwhile) and left
out of the medians.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import threading
import time

import numpy as np
import requests

CLIENTS = 4
NAME = "wine-quality"
TRAIN_CELLS = [
    "from sklearn.datasets import load_wine\nfrom sklearn.model_selection import train_test_split\n"
    "wine = load_wine(as_frame=True).frame\n"
    'train_df, test_df = train_test_split(wine, test_size=0.3, random_state=0, stratify=wine["target"])',
    "%%mlops_train -e wine-retrain --data train_df --target target --eval test_df --quiet\n"
    "from sklearn.ensemble import RandomForestClassifier\n"
    "model = RandomForestClassifier(n_estimators=30, random_state=0).fit(train_df.drop(columns='target'), train_df['target'])",
]


class Clients:
    """``CLIENTS`` threads, each on its own kept-alive session, sending 1-row requests until stopped;
    every request kept as (sent at, latency in s, status or None when it got no answer, version)."""

    def __init__(self, url: str, record: dict):
        self.url, self.body, self.stop = f"{url}/invocations", {"dataframe_records": [record]}, threading.Event()
        self.results: list[list[tuple[float, float, int | None, str | None]]] = [[] for _ in range(CLIENTS)]
        self.threads = [threading.Thread(target=self._client, args=(i,)) for i in range(CLIENTS)]
        for thread in self.threads:
            thread.start()

    def _client(self, index: int) -> None:
        with requests.Session() as session:
            while not self.stop.is_set():
                sent = time.time()
                try:
                    answer = session.post(self.url, json=self.body, timeout=30)
                    self.results[index].append((sent, time.time() - sent, answer.status_code, answer.headers.get("x-model-version")))
                except requests.RequestException:
                    self.results[index].append((sent, time.time() - sent, None, None))

    def first_answer_from(self, version: str, after: float) -> float | None:
        answered = [sent + latency for results in self.results for sent, latency, _, v in list(results) if v == version and sent >= after]
        return min(answered) if answered else None

    def finish(self) -> list[tuple[float, float, int | None, str | None]]:
        self.stop.set()
        for thread in self.threads:
            thread.join(60)
        return sorted(r for results in self.results for r in results)


def p99_ms(latencies: list[float]) -> float:
    return float(np.percentile(latencies, 99)) * 1000 if latencies else float("nan")


def one_round(shell, baseline_seconds: float, timeout: float) -> dict:
    import mlops_magic as mm
    from mlops_magic.tour import recalibrated

    folder = tempfile.mkdtemp(prefix="bench-loop-")
    mm.set_store(folder)
    clients = None
    try:
        for cell in TRAIN_CELLS:
            if not shell.run_cell(cell, store_history=True).success:
                raise RuntimeError(f"the training cell failed: {cell.splitlines()[0]}")
        wine = shell.user_ns["wine"]
        mm.promote(mm.runs("wine-retrain")["run_id"][0], name=NAME, alias="production")
        mm.set_policy(NAME, "accuracy", min_value=0.85, window=100, min_labelled=80, retrain=True, gate="accuracy >= 0.88")
        deployment = mm.serve(f"{NAME}@production")
        if not (deployment.watcher or {}).get("alive"):
            raise RuntimeError(f"the watcher did not start: {deployment.watcher}")
        healthy = shell.user_ns["test_df"].sample(n=100, replace=True, random_state=1).reset_index(drop=True)
        with requests.Session() as session:  # the tutorial's healthy start: 100 wines like the training ones, labelled
            answered = session.post(f"{deployment.url}/invocations", json={"dataframe_records": healthy.drop(columns="target").to_dict("records")}, timeout=60)
            session.post(
                f"{deployment.url}/feedback", json={"ids": answered.json()["ids"], "labels": healthy["target"].tolist()}, timeout=60
            ).raise_for_status()
        clients = Clients(deployment.url, wine.drop(columns="target").iloc[0].to_dict())
        baseline_from = time.time()
        time.sleep(baseline_seconds)
        baseline_to = time.time()
        drifted = recalibrated(wine, 200, seed=2)
        with requests.Session() as session:
            answered = session.post(f"{deployment.url}/invocations", json={"dataframe_records": drifted.drop(columns="target").to_dict("records")}, timeout=60)
            answered.raise_for_status()
            champion_on_window = float((np.array(answered.json()["predictions"]) == drifted["target"]).mean())
            recorded = session.post(f"{deployment.url}/feedback", json={"ids": answered.json()["ids"], "labels": drifted["target"].tolist()}, timeout=60)
            if recorded.json().get("recorded") != len(drifted):
                raise RuntimeError(f"/feedback answered {recorded.text}")
            labelled_at = time.time()
            while (swapped_at := clients.first_answer_from("2", labelled_at)) is None and time.time() < labelled_at + timeout:
                time.sleep(0.05)
            time.sleep(1.0)  # clients keep going past the swap
            results = clients.finish()
            clients = None
            jobs = mm.get_store().jobs(NAME)
            if swapped_at is None:  # the policy did not fire (or the job did not promote): the round says so
                baseline = [latency for sent, latency, _, _ in results if baseline_from <= sent < baseline_to]
                alerts = mm.alerts(NAME)
                crossed = alerts[(alerts["kind"] == "threshold") & (alerts["time"].map(lambda t: t.timestamp()) >= labelled_at)]
                return {
                    "reaction": None,
                    "timeout": timeout,
                    "jobs": [(j.status, j.error) for j in jobs],
                    "alerts_without_job": len(crossed),
                    "requests": len(results),
                    "failed": sum(status != 200 for _, _, status, _ in results),
                    "baseline_p99": p99_ms(baseline),
                    "baseline_n": len(baseline),
                }
            later = recalibrated(wine, 100, seed=3)
            after = session.post(f"{deployment.url}/invocations", json={"dataframe_records": later.drop(columns="target").to_dict("records")}, timeout=60)
            retrained_accuracy = float((np.array(after.json()["predictions"]) == later["target"]).mean())
            champion_accuracy = float((mm.load_model(f"{NAME}/1").predict(later.drop(columns="target")) == later["target"]).mean())
            after_version = after.headers.get("x-model-version")
        job = jobs[0]
        lineage = mm.lineage(NAME)
        timeline = [(event, at.timestamp() - labelled_at) for event, at in zip(lineage["event"], lineage["time"]) if at.timestamp() >= labelled_at]
        baseline = [latency for sent, latency, _, _ in results if baseline_from <= sent < baseline_to]
        training = [latency for sent, latency, _, _ in results if job.started_at <= sent < (job.finished_at or sent)]
        return {
            "reaction": swapped_at - labelled_at,
            "timeline": timeline + [("first answer from v2", swapped_at - labelled_at)],
            "requests": len(results),
            "failed": sum(status != 200 for _, _, status, _ in results),
            "baseline_p99": p99_ms(baseline),
            "baseline_n": len(baseline),
            "training_p99": p99_ms(training),
            "training_n": len(training),
            "job_seconds": (job.finished_at or time.time()) - job.started_at,
            "job_status": job.status,
            "champion_on_window": champion_on_window,
            "held_out": {who: s["accuracy"] for who, s in job.detail.get("held_out", {}).items()},
            "retrained": retrained_accuracy,
            "champion": champion_accuracy,
            "after_version": after_version,
        }
    finally:
        if clients is not None:
            clients.finish()
        try:
            mm.stop(NAME)
        except Exception as error:  # nothing served when the round failed before mm.serve
            print(f"  (stop: {error})")
        shutil.rmtree(folder, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog="Prints figures; asserts nothing.")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, each in a fresh store (medians reported)")
    parser.add_argument("--baseline-seconds", type=float, default=10.0, help="4-client load with no job, before the drift")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for the retrained version")
    parser.add_argument("--quick", action="store_true", help="one round, 4 s of baseline")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.baseline_seconds = 1, 4.0

    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "mlops_magic")
    rounds = []
    for number in range(1, args.rounds + 1):
        figures = one_round(shell, args.baseline_seconds, args.timeout)
        rounds.append(figures)
        if figures["reaction"] is None:
            print(
                f"round {number}: NO REACTION: version 2 did not answer within {figures['timeout']:.0f} s; jobs {figures['jobs']}; "
                f"{figures['alerts_without_job']} threshold alerts recorded after the labels; {figures['requests']} requests, "
                f"{figures['failed']} failed; baseline p99 {figures['baseline_p99']:.1f} ms"
            )
            continue
        steps = ", ".join(f"{event} +{at:.1f}s" for event, at in figures["timeline"])
        print(f"round {number}: reaction {figures['reaction']:.1f} s (job {figures['job_status']}, {figures['job_seconds']:.1f} s): {steps}")
        print(
            f"  {figures['requests']} requests from {CLIENTS} clients, {figures['failed']} failed; p99 {figures['training_p99']:.1f} ms while the job ran "
            f"({figures['training_n']} requests) vs {figures['baseline_p99']:.1f} ms without ({figures['baseline_n']}): "
            f"{figures['training_p99'] / figures['baseline_p99']:.2f}x"
        )
        print(
            f"  drifted rows: champion {figures['champion_on_window']:.3f} on the window that fired; held out: "
            + ", ".join(f"{who} {value:.3f}" for who, value in figures["held_out"].items())
            + f"; after the swap (v{figures['after_version']}) {figures['retrained']:.3f} vs the champion's {figures['champion']:.3f} on the same 100 rows"
        )
    reacted = [r for r in rounds if r["reaction"] is not None]
    print(f"summary: {len(reacted)} of {len(rounds)} round(s) reacted; medians over those:")
    print(f"  failed requests {sum(r['failed'] for r in rounds)} of {sum(r['requests'] for r in rounds)} (all rounds)")
    if not reacted:
        return 1
    rounds = reacted
    median = lambda key: statistics.median(r[key] for r in rounds)  # noqa: E731
    ratio = statistics.median(r["training_p99"] / r["baseline_p99"] for r in rounds)
    print(f"  reaction time {median('reaction'):.1f} s (max {max(r['reaction'] for r in rounds):.1f} s; target under 30 s)")
    print(f"  p99 while a job trains {median('training_p99'):.1f} ms vs {median('baseline_p99'):.1f} ms without: {ratio:.2f}x (target within 2x)")
    print(f"  realised accuracy on drifted rows after the swap {median('retrained'):.3f} vs the champion's {median('champion'):.3f} on the same rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
