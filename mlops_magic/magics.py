"""The IPython magics: each parses its arguments, calls one ``api`` function, and returns its view.

A line magic returns its view (as jupysql's ``%sql`` returns its result): a cell that ends with the
magic shows it, and ``runs = %mlops_runs -e wine`` keeps it (``runs.frame``). Errors a user can
fix (``MLOpsError``) become a ``UsageError``: one line, no traceback.
"""

from __future__ import annotations

import contextlib

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from IPython.display import display
from traitlets import Float, Unicode, observe

from . import config
from .errors import MLOpsError
from .monitoring.windows import DEFAULT_WINDOW
from .serving import DEFAULT_WORKERS


@contextlib.contextmanager
def user_errors():
    """Show an ``MLOpsError`` as a one-line usage error instead of a traceback."""
    try:
        yield
    except MLOpsError as exc:
        raise UsageError(str(exc)) from None


def arguments(magic, line: str):
    """``parse_argstring``, with an unclosed quote a usage error like any other bad argument, and
    every message on one line (argparse quotes a bad argument as given, line breaks included)."""
    try:
        return parse_argstring(magic, line)
    except ValueError as exc:  # shlex: "No closing quotation"
        raise UsageError(f"{exc} in {line!r}: close the quote, or escape it with a backslash.") from None
    except UsageError as exc:
        raise UsageError(str(exc).replace("\r", "\\r").replace("\n", "\\n")) from None


def unquote(text: str) -> str:
    """Drop one pair of surrounding quotes (IPython's argument splitter keeps them)."""
    text = text.strip()
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"" else text


def with_policy_flags(magic):
    """Declare the policy flags (``loop/flags.py``: the CLI's too) on a magic."""
    from .loop.flags import POLICY_FLAGS

    for names, options in reversed(POLICY_FLAGS):
        magic = argument(*names, **options)(magic)
    return magic


def with_metric_flags(magic):
    """Declare the metric definition flags (``metrics/flags.py``: the CLI's too) on a magic."""
    from .metrics.flags import METRIC_FLAGS

    for names, options in reversed(METRIC_FLAGS):
        magic = argument(*names, **options)(magic)
    return magic


def parse_tags(pairs: list[str] | None) -> dict[str, str]:
    tags = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--tag {pair!r} is not KEY=VALUE: write e.g. --tag owner=ana.")
        tags[key] = value
    return tags


@magics_class
class MLOpsMagic(Magics):
    """Track, deploy and monitor models from the notebook. Settings: ``%config MLOpsMagic``."""

    store = Unicode("", help="Store location: a SQLAlchemy URL or a folder (default: MLOPS_MAGIC_STORE or ./.mlops).").tag(
        config=True
    )

    snapshot_limit_mb = Float(
        config.SNAPSHOT_LIMIT_MB, help="A run keeps its whole training and eval data (for replays) up to this many MB; larger data is not kept."
    ).tag(config=True)

    @observe("snapshot_limit_mb")
    def _snapshot_limit_changed(self, change):
        self.session.set_snapshot_limit(change["new"])

    def __init__(self, shell=None, **kwargs):
        from .session import Session

        self.session = Session()  # before the traits load their configuration
        super().__init__(shell=shell, **kwargs)

    @observe("store")
    def _store_changed(self, change):
        if change["new"]:
            with user_errors():
                self.session.choose_store(change["new"])
                self.session.store()

    @magic_arguments()
    @argument("-e", "--experiment", default="default", help="experiment to record the run in (created on first use)")
    @argument("-n", "--name", default=None, help="run name (default: the experiment name and a counter)")
    @argument("--data", default=None, help="training data: a DataFrame variable (with --target) or X,y variables")
    @argument("--target", default=None, help="target column of the --data / --eval DataFrames")
    @argument("--eval", default=None, help="evaluation data: a DataFrame variable (with --target) or X_test,y_test")
    @argument("--tag", action="append", metavar="KEY=VALUE", help="a tag for the run (repeatable)")
    @argument("--quiet", action="store_true", help="record the run without showing the run card")
    @cell_magic
    def mlops_train(self, line, cell):
        """Run the cell and record it as a run: code, params, metrics, model, data, environment.

        The cell runs exactly as without the magic; a run card shows what was recorded.
        """
        __tracebackhide__ = True  # the user's traceback starts at their own code
        from . import api

        args = arguments(self.mlops_train, line)
        with user_errors():
            value, card = api.train_cell(
                self.shell,
                cell,
                experiment=args.experiment,
                name=args.name,
                data=args.data,
                target=args.target,
                eval=args.eval,
                tags=parse_tags(args.tag),
                card=not args.quiet,
            )
        if card is not None:
            from .widgets.run_card import RunCard

            display(RunCard(card))
        return value

    @magic_arguments()
    @argument("-e", "--experiment", default=None, help="only runs of this experiment")
    @argument("--sort", default=None, help="metric or column to sort by (best first for metrics)")
    @argument("--asc", action="store_true", help="sort ascending")
    @argument("--limit", type=int, default=None, help="show at most N runs")
    @argument("--where", default=None, nargs="+", help='a filter, e.g. "accuracy > 0.9"')
    @line_magic
    def mlops_runs(self, line):
        """Show the runs as an interactive table (sortable, with metric columns)."""
        from . import api
        from .widgets.runs_table import RunsTable

        args = arguments(self.mlops_runs, line)
        with user_errors():
            frame = api.runs(
                args.experiment,
                sort=args.sort,
                ascending=True if args.asc else None,
                limit=args.limit,
                where=unquote(" ".join(args.where)) if args.where else None,
            )
        return RunsTable(frame, compare=api.compare)

    @magic_arguments()
    @argument("run_ids", nargs="+", help="two or more run ids (or unique prefixes)")
    @line_magic
    def mlops_compare(self, line):
        """Show runs side by side: differing params and metrics, code diff, data, a metrics chart."""
        from . import api
        from .widgets.comparison import ComparisonView

        args = arguments(self.mlops_compare, line)
        if len(args.run_ids) < 2:
            raise UsageError("%mlops_compare needs at least two run ids.")
        with user_errors():
            comparison = api.compare(*args.run_ids)
        return ComparisonView(comparison)

    @magic_arguments()
    @argument("name", help="the served model's name")
    @argument("-w", "--window", default=DEFAULT_WINDOW, help=f"a number of answered predictions ({DEFAULT_WINDOW}) or a duration (30min, 1h, 1d)")
    @argument("--metric", default=None, help="metric to watch: accuracy, f1_macro, roc_auc, rmse, error_rate, latency_p95, ...")
    @argument("--min", dest="min_value", type=float, default=None, help="alert when the metric falls below this (stores a policy)")
    @argument("--max", dest="max_value", type=float, default=None, help="alert when the metric rises above this (stores a policy)")
    @argument("--windows", type=int, default=50, help="how many past windows to show (default 50)")
    @argument("--backtest", action="store_true", help="replay past windows: how many alerts would the policy have fired? (stores nothing)")
    @argument("--slice", action="append", nargs="+", default=None, help="show (and with --min/--max, watch) the rows whose logged inputs match a pandas query (repeatable)")
    @argument("--keep", default=None, help="bound the prediction log: keep raw rows of the last 30d, or the newest N (the aggregates stay); all: everything")
    @line_magic
    def mlops_monitor(self, line):
        """Show how a served model is doing: performance per window, drift, health, alerts.

        With --metric and --min/--max a policy is stored for this --window and checked at each
        evaluation on that window only; an alert is recorded when the newest window crosses it, or
        when drift is detected.
        """
        from . import api
        from .metrics.flags import joined

        args = arguments(self.mlops_monitor, line)
        slices = [joined(words) for words in args.slice or []]
        if args.backtest:
            if args.metric is None or len(slices) > 1:
                raise UsageError("--backtest replays a policy: add --metric NAME and --min or --max (and at most one --slice).")
            with user_errors():
                return api.backtest(
                    args.name, args.metric, min_value=args.min_value, max_value=args.max_value, window=args.window, max_windows=args.windows,
                    slice=slices[0] if slices else None,
                )  # fmt: skip
        if (args.min_value is not None or args.max_value is not None) and args.metric is None:
            raise UsageError("--min/--max need --metric NAME, e.g. --metric accuracy --min 0.85.")
        if args.keep is not None:
            from .monitoring.windows import retention_line

            with user_errors():
                print(retention_line(api.set_retention(args.name, args.keep)))
        from .widgets.monitor import MonitorDashboard

        def refresh():
            return api.monitor(args.name, window=args.window, metric=args.metric, max_windows=args.windows, slices=slices)

        with user_errors():
            report = api.monitor(
                args.name, window=args.window, metric=args.metric, min_value=args.min_value, max_value=args.max_value, max_windows=args.windows, slices=slices
            )
        return MonitorDashboard(report, refresh=refresh)

    @magic_arguments()
    @argument("name", help="the served model's name")
    @with_policy_flags
    @line_magic
    def mlops_policy(self, line):
        """Store a policy on a served model: alert when --metric leaves [--min, --max] (or on --drift),
        and with --retrain retrain, gate and promote when it fires (the watcher acts on it).

        %mlops_policy wine-quality --metric accuracy --min 0.85 --window 200 --retrain --gate "accuracy >= 0.88" --min-labelled 100
        """
        from . import api
        from .loop.actions import PolicyCard
        from .loop.flags import policy_arguments

        args = arguments(self.mlops_policy, line)
        with user_errors():
            metric, keywords = policy_arguments(args)
            return PolicyCard(api.set_policy(args.name, metric, **keywords))

    @magic_arguments()
    @argument("name", nargs="?", default=None, help="the metric's name (none: list the defined metrics)")
    @with_metric_flags
    @line_magic
    def mlops_metric(self, line):
        """Define a metric once for the store: --sklearn NAME [--pos-label P] [--average A] [--option K=V],
        --cost-matrix or --gain-matrix "[[0, 1], [50, 0]]" [--labels 0,1], or --function FILE.py:NAME
        (in the notebook: @mm.metric("name", better="lower")); --better; --drop. Without a name, list them.

        %mlops_metric recall_fraud --sklearn recall --pos-label 1
        """
        from . import api
        from .metrics.flags import metric_arguments

        args = arguments(self.mlops_metric, line)
        with user_errors():
            if args.name is None:
                return api.defined_metrics()
            if args.drop:
                return api.drop_metric(args.name)
            return api.define_metric(args.name, **metric_arguments(args))

    @magic_arguments()
    @argument("data", help="a DataFrame variable")
    @argument("--target", default=None, help="the target column: adds class balance, leakage suspects and 'does ML help?'")
    @argument("--task", default=None, choices=["classification", "regression"], help="default: inferred from the target")
    @argument("--no-baseline", action="store_true", help="skip the cross-validated comparison with the dummy baseline")
    @line_magic
    def mlops_data(self, line):
        """Check data before training: missing values, duplicates, constant and ID-like columns,
        leakage suspects, class balance, and whether a simple model beats the dummy baseline."""
        from . import api
        from .widgets.data_report import DataReportView

        args = arguments(self.mlops_data, line)
        if args.data not in self.shell.user_ns:
            raise UsageError(f"no variable {args.data!r} in the notebook: load the data into a DataFrame first.")
        with user_errors():
            report = api.check_data(self.shell.user_ns[args.data], target=args.target, task=args.task, baseline=not args.no_baseline)
        return DataReportView(report)

    @magic_arguments()
    @argument("run", help="a run id (or unique prefix), or 'best' for the best run of -e EXPERIMENT")
    @argument("--name", required=True, help="registered model name, e.g. wine-quality (created on first use)")
    @argument("--alias", default=None, help="alias to point at the version, e.g. production or staging")
    @argument("-e", "--experiment", default=None, help="experiment to pick the best run from")
    @argument("--by", default=None, help="metric that ranks runs for 'best' (default: accuracy or rmse, by task)")
    @argument("--require", action="append", nargs="+", help='a gate on the run\'s metrics, e.g. --require "accuracy >= 0.9"')
    @argument("--force", action="store_true", help="promote even when a gate fails (recorded in the alias history)")
    @line_magic
    def mlops_promote(self, line):
        """Register a run's model as a new version, behind quality gates, and optionally move an alias.

        A refused promotion names the failed gate with both figures, and stores nothing.
        """
        from . import api

        args = arguments(self.mlops_promote, line)
        require = [unquote(" ".join(words)) for words in args.require or []]
        with user_errors():
            return api.promote(args.run, name=args.name, alias=args.alias, experiment=args.experiment, by=args.by, require=require, force=args.force)

    @magic_arguments()
    @argument("name", nargs="?", default=None, help="only this model")
    @line_magic
    def mlops_models(self, line):
        """Show the registry: models, versions with their aliases and metrics, and the alias history."""
        from . import api
        from .widgets.registry import RegistryView

        args = arguments(self.mlops_models, line)
        with user_errors():
            registry = api.models(args.name)
        return RegistryView(registry)

    @magic_arguments()
    @argument("ref", nargs="?", default=None, help="NAME@ALIAS, NAME/VERSION, or NAME with --split")
    @argument("--port", type=int, default=None, help="port to listen on (default: a free one)")
    @argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    @argument("--split", default=None, help="A/B test: variants and weights, e.g. production=90,staging=10")
    @argument("--shadow", default=None, help="a variant that scores the same requests without answering, e.g. staging")
    @argument("--workers", type=int, default=DEFAULT_WORKERS, help="worker processes sharing the port (default 2 with 2+ cores, else 1)")
    @argument("--token", default=None, help="bearer token every request but the health checks needs (default MLOPS_MAGIC_TOKEN); required beyond 127.0.0.1")
    @argument("--stop", default=None, metavar="NAME", help="stop the serving process of model NAME")
    @line_magic
    def mlops_serve(self, line):
        """Serve a registered model over HTTP in its own process (MLflow and V2 protocols), or --stop it.

        The process outlives the kernel; %mlops_deployments finds it again.
        """
        from . import api
        from .widgets.deployments import DeploymentCard

        args = arguments(self.mlops_serve, line)
        with user_errors():
            status = api.serve_or_stop(
                args.ref, stop_name=args.stop, port=args.port, host=args.host, split=args.split, shadow=args.shadow, workers=args.workers, token=args.token
            )
        return DeploymentCard(status, refresh=lambda: (api.deployments(status.name) or [status])[0])

    @magic_arguments()
    @argument("ref", help="NAME@ALIAS, NAME/VERSION or NAME")
    @argument("folder", help="a new (or empty) folder to write")
    @argument("--format", choices=["mlflow", "kserve", "mlserver"], default="mlflow", help="mlflow (default), kserve or mlserver")
    @argument("--allow-custom", action="store_true", help="export a model made of types beyond scikit-learn/numpy/scipy/pandas")
    @line_magic
    def mlops_export(self, line):
        """Write a registered version into a folder another server loads (MLflow, KServe, MLServer); it is a pickle."""
        from . import api

        args = arguments(self.mlops_export, line)
        with user_errors():
            exported = api.export(args.ref, args.folder, format=args.format, allow_custom=args.allow_custom)
        print(f"note: {exported.note}")
        return exported

    @line_magic
    def mlops_deployments(self, line):
        """Show every serving process: URL, what it serves, running or dead, request count."""
        from . import api
        from .widgets.deployments import DeploymentsTable

        with user_errors():
            statuses = api.deployments()
        return DeploymentsTable(statuses, refresh=api.deployments)

    @magic_arguments()
    @argument("path", nargs="?", default=".", help="the project's folder (default: the notebook's)")
    @argument("--answer", action="append", default=None, metavar="QUESTION=ANSWER", help="answer a question about people and process: yes, partly or no")
    @line_magic
    def mlops_maturity(self, line):
        """Which MLOps maturity level (0-4) the work has reached, from evidence in the store and the folder,
        with the checklist, the ML Test Score and the one next step."""
        from . import api
        from .widgets.maturity import MaturityDashboard

        args = arguments(self.mlops_maturity, line)
        with user_errors():
            for pair in args.answer or []:
                question, sep, answer = pair.partition("=")
                if not sep:
                    raise UsageError(f"--answer {pair!r} is not QUESTION=ANSWER: write e.g. --answer cooperation=yes.")
                api.answer_maturity(question, answer)
            report = api.maturity(unquote(args.path))
        return MaturityDashboard(report, on_answer=api.answer_maturity)


def register(ipython) -> None:
    """Register the magics, and make a session of their own the current one (``mm.*`` uses it too)."""
    from . import api

    magics = MLOpsMagic(ipython)
    magics.replaced_session = api.use_session(magics.session)
    ipython.register_magics(magics)


def unregister(ipython) -> None:
    """Remove the magics; write what their session has pending, close it, and restore the session before."""
    from . import api

    magics = ipython.magics_manager.registry.pop("MLOpsMagic", None)
    if magics is None:
        return
    for kind, names in magics.magics.items():
        for name in names:
            ipython.magics_manager.magics[kind].pop(name, None)
    api.use_session(magics.replaced_session)
    magics.session.close()
