#!/usr/bin/env python3
"""Check daily_dag.py's structure without Airflow (installing it takes ~15 minutes, too
slow for CI): load the DAG file against a stand-in `airflow` package that records the DAG,
its tasks and their edges, then check what the job needs:

- one task per layer: bronze, silver, quality_gate, gold, report, in a chain in that order;
- every task a BashOperator running `make` in the job directory, with retries (the gate
  none: a failed check is not retried), for the run's day: the commands rendered with a ds
  name that day's targets (silver/D.tsv, gate/D.json, gold/users/D.tsv, gold/country/D.tsv);
- every make target named exists as a rule of ../Makefile (checked with make -n -p).

    check_dag.py [--ds 2024-01-05] [--dag daily_dag.py]

Exit 0 when the DAG is right, 1 with one line per problem.
"""

import argparse
import os
import re
import subprocess
import sys
import types

HERE = os.path.dirname(os.path.abspath(__file__))
TASKS = ["bronze", "silver", "quality_gate", "gold", "report"]


class Task:
    def __init__(self, task_id, bash_command, cwd=None, retries=None, **kw):
        self.task_id, self.bash_command, self.cwd = task_id, bash_command, cwd
        self.retries = retries
        self.down = []
        self.kw = kw
        DAG.current.tasks.append(self)

    def __rshift__(self, other):
        self.down.append(other)
        return other


class DAG:
    current = None

    def __init__(self, dag_id, default_args=None, **kw):
        self.dag_id, self.default_args, self.kw, self.tasks = dag_id, default_args or {}, kw, []

    def __enter__(self):
        DAG.current = self
        return self

    def __exit__(self, *exc):
        DAG.loaded = self
        return False


def load(path):
    airflow = types.ModuleType("airflow")
    airflow.DAG = DAG
    ops = types.ModuleType("airflow.operators")
    bash = types.ModuleType("airflow.operators.bash")
    bash.BashOperator = Task
    sys.modules.update({"airflow": airflow, "airflow.operators": ops, "airflow.operators.bash": bash})
    with open(path) as f:
        code = compile(f.read(), path, "exec")
    exec(code, {"__name__": "daily_dag", "__file__": path})
    return DAG.loaded


def make_rules():
    """Targets and pattern rules of the Makefile, from make's database."""
    out = subprocess.run(
        ["make", "-r", "-R", "-n", "-p", "-f", os.path.join(HERE, "..", "Makefile"), "-q", "--no-print-directory", "__nothing__"],
        capture_output=True, text=True, cwd=HERE,
    ).stdout
    rules = set()
    for line in out.splitlines():
        m = re.match(r"^([^\s:#=][^:=]*?):(?!=)", line)
        if m:
            rules.add(m.group(1).strip())
    return rules


def matches(target, rules):
    for r in rules:
        if r == target:
            return True
        if "%" in r:
            pre, post = r.split("%", 1)
            if target.startswith(pre) and target.endswith(post):
                return True
    return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ds", default="2024-01-05")
    ap.add_argument("--dag", default=os.path.join(HERE, "daily_dag.py"))
    a = ap.parse_args()
    problems = []
    dag = load(a.dag)
    ids = [t.task_id for t in dag.tasks]
    if ids != TASKS:
        problems.append(f"tasks are {ids}, not {TASKS}")
    by = {t.task_id: t for t in dag.tasks}
    for up, down in zip(TASKS, TASKS[1:]):
        if up in by and [d.task_id for d in by[up].down] != [down]:
            problems.append(f"{up} is followed by {[d.task_id for d in by[up].down]}, not [{down!r}]")
    if dag.kw.get("max_active_runs") != 1:
        problems.append("max_active_runs is not 1 (two runs would share the job directory)")
    rules = make_rules()
    if not rules:
        problems.append("could not read the Makefile's rules (make -p)")
    want = {"silver": [f"silver/{a.ds}.tsv"], "quality_gate": [f"gate/{a.ds}.json"],
            "gold": [f"gold/users/{a.ds}.tsv", f"gold/country/{a.ds}.tsv"]}
    for t in dag.tasks:
        cmd = t.bash_command.replace("{{ ds }}", a.ds)
        if "{{" in cmd:
            problems.append(f"{t.task_id}: unrendered template in {cmd!r}")
        words = cmd.split()
        if "make" not in words:
            problems.append(f"{t.task_id}: does not run make: {cmd!r}")
            continue
        targets = [w for w in words[words.index("make") + 1:] if not w.startswith("-")]
        for w in want.get(t.task_id, []):
            if w not in targets:
                problems.append(f"{t.task_id}: does not make {w} (makes {targets})")
        for tg in targets:
            if rules and not matches(tg, rules):
                problems.append(f"{t.task_id}: make target {tg} is no rule of the Makefile")
        if not t.cwd:
            problems.append(f"{t.task_id}: no cwd (the job directory)")
        retries = t.retries if t.retries is not None else dag.default_args.get("retries", 0)
        if t.task_id == "quality_gate":
            if retries:
                problems.append("quality_gate is retried: a failed check is data, not chance")
        elif not retries:
            problems.append(f"{t.task_id}: no retries")
    for p in problems:
        print(f"check_dag: {p}", file=sys.stderr)
    if not problems:
        print(f"check_dag: {dag.dag_id}: {' >> '.join(ids)}: ok for ds={a.ds}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
