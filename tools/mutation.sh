#!/usr/bin/env bash
# Mutation testing of the core modules with the fast tests (docs/tests.md, "Mutation score").
#
#   bash tools/mutation.sh                  # every module below, one after the other
#   bash tools/mutation.sh select metrics   # some of them
#
# Each module is mutated by mutmut (pip install mutmut; 3.x) in its own clone of the current
# commit under $MUT_DIR (default /tmp/rolo-mutation), with the test files that exercise it, so
# that a surviving mutant costs seconds, not the whole suite. mutmut runs, per mutant, only the
# tests that reach the mutated function. Results stay in each clone: `cd $MUT_DIR/<module> &&
# mutmut results` lists the survivors, `mutmut show <name>` shows one. Run it niced on a shared
# machine: `nice -n 10 bash tools/mutation.sh`.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
MUT_DIR="${MUT_DIR:-/tmp/rolo-mutation}"
CHILDREN="${CHILDREN:-1}"
# mutmut's timeout is a CPU-time limit; torch's OpenMP threads spin while waiting for a core and burn
# CPU time on a loaded machine, which turned slow-but-correct runs into false "timeouts".
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1

# module -> the fast test files that exercise it. Tests that run a script in a subprocess
# (tests/test_faults.py) cannot run under mutmut: the child process does not find mutmut's setup.
declare -A TESTS=(
  [boxes]="tests/test_boxes.py tests/test_metrics.py"
  [metrics]="tests/test_metrics.py"
  [splits]="tests/test_splits_cache.py tests/test_splits_plan.py"
  [windows]="tests/test_windows_store.py tests/test_splits_cache.py"
  [select]="tests/test_select.py tests/test_select_compare.py"
  [evaluation]="tests/test_evaluation.py tests/test_evaluation_units.py"
  [cache]="tests/test_cache.py tests/test_splits_cache.py"
  [otb]="tests/test_otb.py tests/test_otb_lists.py"
)
MODULES=("$@")
[ ${#MODULES[@]} -gt 0 ] || MODULES=(boxes metrics splits windows select evaluation cache otb)

for m in "${MODULES[@]}"; do
  [ -n "${TESTS[$m]:-}" ] || { echo "error: no test list for module '$m' in tools/mutation.sh" >&2; exit 2; }
  work="$MUT_DIR/$m"
  rm -rf "$work"
  mkdir -p "$MUT_DIR"
  git clone -q "$REPO" "$work"
  # the real OTB sample, where tests/conftest.py looks for it (beside the tests' parent folder)
  [ -d "$REPO/../shared" ] && ln -s "$(cd "$REPO/../shared" && pwd)" "$work/shared"
  {
    echo "[mutmut]"
    echo "source_paths = rolo"
    echo "timeout_multiplier = 3.0"   # a mutant that makes a test loop is a kill; no need to wait 15x
    echo "only_mutate = rolo/$m.py"
    echo "pytest_add_cli_args_test_selection ="
    for t in ${TESTS[$m]}; do echo "    $t"; done
    printf 'pytest_add_cli_args =\n    -m\n    not slow\n    -p\n    no:cacheprovider\n'
    echo "also_copy ="   # the scripts and files beside rolo/ that tests run or read
    (cd "$work" && git ls-files | grep -v / | sed 's/^/    /')
  } > "$work/setup.cfg"
  (cd "$work" && mutmut run --max-children "$CHILDREN" > mutmut.log 2>&1 || true)
  (cd "$work" && mutmut results --all true > results.txt 2>/dev/null || mutmut results > results.txt)
  killed=$(grep -c ": killed" "$work/results.txt" || true)
  total=$(grep -c ": " "$work/results.txt" || true)
  echo "$m: $killed of $total mutants killed; not killed:"
  grep -v ": killed" "$work/results.txt" || true
done
