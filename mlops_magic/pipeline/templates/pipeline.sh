#!/usr/bin/env bash
# The release pipeline of model {{model}}, written by `mlops-magic ci init`.
#
# It does what MLOps maturity level 3 asks of a release, with the mlops-magic command line:
#   1. run the tests;
#   2. train: {{train_comment}};
#   3. gate and promote: the new run becomes {{model}}@production only if it passes the gates
#      in REQUIRE (e.g. "accuracy >= 0.9"; empty: none) and is not worse than the current
#      production version (`mlops-magic promote` exits 1 on a refusal, which stops the release here);
#   4. check the monitor: `mlops-magic monitor check` exits 1 when a policy's alert fires;
#   5. assess: `mlops-magic maturity` exits 1 below level {{min_level}}.
#
# The store is the one the notebooks write to: MLOPS_MAGIC_STORE (a database URL shared by the team,
# e.g. postgresql+psycopg://..., or a folder); unset, ./.mlops beside this repository.
# Each setting below can be overridden from the environment, e.g. MIN_LEVEL=2 bash ci/pipeline.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

MODEL="${MODEL:-{{model}}}"
EXPERIMENT="${EXPERIMENT:-{{experiment}}}"
REQUIRE="${REQUIRE-{{require}}}"
MIN_LEVEL="${MIN_LEVEL:-{{min_level}}}"
TESTS="${TESTS:-{{tests}}}"

echo "== 1/5 tests: $TESTS"
$TESTS

echo "== 2/5 train"
{{train_step}}
echo "trained run $run_id"

echo "== 3/5 gate and promote"
gates=()
if [ -n "$REQUIRE" ]; then gates=(--require "$REQUIRE"); fi
mlops-magic promote "$run_id" -e "$EXPERIMENT" --name "$MODEL" --alias production "${gates[@]}"

echo "== 4/5 monitor"
mlops-magic monitor check "$MODEL"

echo "== 5/5 maturity"
mlops-magic maturity . --min-level "$MIN_LEVEL"
