"""The closed loop: policies that act, the watcher that evaluates them, and retraining jobs."""
