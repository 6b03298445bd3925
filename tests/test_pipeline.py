"""``mlops-magic ci init``: the pipeline it writes is valid for its CI service and runs green, as
generated, in a temporary git repository; a refused gate stops it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import mlops_magic as mm
from mlops_magic.errors import InvalidInputError

TRAIN = (
    "%%mlops_train -e wine --data train_df --target target --eval test_df --quiet\n"
    "from sklearn.ensemble import RandomForestClassifier\n"
    'model = RandomForestClassifier(n_estimators=20, random_state=0).fit(train_df.drop(columns="target"), train_df["target"])'
)
SETUP = (
    "from sklearn.datasets import load_wine\nfrom sklearn.model_selection import train_test_split\n"
    'wine = load_wine(as_frame=True).frame\ntrain_df, test_df = train_test_split(wine, random_state=0, stratify=wine["target"])'
)


def cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "mlops_magic.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def git(folder, *args):
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@localhost", *args], cwd=folder, check=True, capture_output=True)


def schema_check(schema: str, path) -> subprocess.CompletedProcess:
    """Validate a CI file against SchemaStore's schema for it (vendored in check-jsonschema: offline)."""
    return subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, str(path)], capture_output=True, text=True)


@pytest.fixture
def repository(ip, tmp_path):
    """A git repository with a test, and a store holding wine-q@production trained by a tracked cell."""
    assert ip.run_cell(SETUP, store_history=True).success and ip.run_cell(TRAIN, store_history=True).success
    mm.promote(mm.runs("wine")["run_id"][0], name="wine-q", alias="production")
    folder = tmp_path / "repo"
    (folder / "tests").mkdir(parents=True)
    (folder / "tests" / "test_ok.py").write_text("def test_ok():\n    assert True\n")
    git(folder, "init", "-q")
    return folder


def run_pipeline(folder, **settings) -> subprocess.CompletedProcess:
    env = {**os.environ, "CI": "true", **settings}
    return subprocess.run(["bash", "ci/pipeline.sh"], cwd=folder, env=env, capture_output=True, text=True, timeout=300)


def test_the_generated_pipeline_runs_green_and_a_refused_gate_stops_it(repository, store):
    init = cli("ci", "init", str(repository), "--require", "accuracy >= 0.9", "--tests", "python -m pytest -q tests")
    assert init.returncode == 0, init.stderr
    assert "wrote ci/pipeline.sh, .github/workflows/mlops-release.yml" in init.stdout
    assert os.access(repository / "ci" / "pipeline.sh", os.X_OK)
    git(repository, "add", "-A")
    git(repository, "commit", "-q", "-m", "pipeline")

    done = run_pipeline(repository, MIN_LEVEL="2")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "== 5/5 maturity" in done.stdout and "MLOps maturity level 2" in done.stdout
    production = store.model_version("wine-q", alias="production")
    assert production.version == 2 and store.get_run(production.run_id).parent_run_id == store.model_version("wine-q", version=1).run_id
    [moved] = [e for e in mm.lineage("wine-q").to_dict("records") if e["event"] == "model_version_alias.created" and e["version"] == 2]
    assert moved["detail"]["via"] == "cli" and moved["detail"]["ci"] == "ci" and "accuracy >= 0.9" in moved["detail"]["gates"]

    refused = run_pipeline(repository, REQUIRE="accuracy >= 1.01", MIN_LEVEL="2")
    assert refused.returncode == 1 and "refused" in refused.stderr and "== 4/5 monitor" not in refused.stdout
    assert store.model_version("wine-q", alias="production").version == 2  # production untouched


def test_the_workflows_are_valid_for_their_ci_service(repository, store):
    mm.ci_init(str(repository), provider="github")
    workflow = repository / ".github" / "workflows" / "mlops-release.yml"
    assert schema_check("vendor.github-workflows", workflow).returncode == 0
    broken = repository / "broken.yml"
    broken.write_text(workflow.read_text().replace("runs-on: ubuntu-latest", "runs_on: ubuntu-latest"))
    assert schema_check("vendor.github-workflows", broken).returncode != 0  # the check can fail
    gitlab = mm.ci_init(str(repository), provider="gitlab")
    assert gitlab.files == ["ci/pipeline.sh", ".gitlab-ci.yml"]
    assert schema_check("vendor.gitlab-ci", repository / ".gitlab-ci.yml").returncode == 0
    lint = subprocess.run(["shellcheck", str(repository / "ci" / "pipeline.sh")], capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout


def test_it_never_overwrites_a_changed_file_and_names_what_it_lacks(repository, store):
    assert mm.ci_init(str(repository), provider="script").files == ["ci/pipeline.sh"]
    assert mm.ci_init(str(repository), provider="script").files == ["ci/pipeline.sh"]  # the same content: fine
    script = repository / "ci" / "pipeline.sh"
    script.write_text(script.read_text() + "\n# my change\n")
    with pytest.raises(InvalidInputError, match=r"pipeline\.sh exists and differs: move it away, or pass --force"):
        mm.ci_init(str(repository), provider="script", min_level=2)
    assert "# my change" in script.read_text()
    mm.ci_init(str(repository), provider="script", min_level=2, force=True)
    assert "# my change" not in script.read_text() and 'MIN_LEVEL="${MIN_LEVEL:-2}"' in script.read_text()
    mm.promote(mm.runs("wine")["run_id"][0], name="other")
    refused = cli("ci", "init", str(repository), "--force")
    assert refused.returncode == 2 and "which model does the pipeline release? the store has 2 (other, wine-q): add --model NAME" in refused.stderr
    assert cli("ci", "init", str(repository), "--provider", "jenkins").returncode == 2


def test_a_pipeline_can_train_with_the_users_script_instead_of_a_replay(repository, store):
    (repository / "train.py").write_text(
        "import mlops_magic as mm\n"
        "from sklearn.datasets import load_wine\n"
        "from sklearn.ensemble import RandomForestClassifier\n\n"
        "wine = load_wine(as_frame=True).frame\n"
        'with mm.run("wine", name="scripted", data=wine, target="target", eval=wine) as run:\n'
        '    run.track_model(RandomForestClassifier(n_estimators=10, random_state=0).fit(wine.drop(columns="target"), wine["target"]))\n'
    )
    mm.ci_init(str(repository), provider="script", script="train.py", min_level=0, tests="python -m pytest -q tests")
    assert "python train.py" in (repository / "ci" / "pipeline.sh").read_text()
    done = run_pipeline(repository)
    assert done.returncode == 0, done.stdout + done.stderr
    production = store.model_version("wine-q", alias="production")
    assert production.version == 2 and store.get_run(production.run_id).name == "scripted"
