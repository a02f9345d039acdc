"""The daily job (../Makefile) as an Airflow DAG: one task per layer, each running the make
target of the run's day {{ ds }}, with retries; the quality gate is its own task, so a
failed check stops the run before gold, visibly.

Set DAILY_JOB_DIR to the job's directory (the one holding the Makefile and landing/).
Checked without Airflow by check_dag.py (tests/daily_job.rs runs it); with Airflow:
`airflow dags test batchkit_daily 2024-01-05`.
"""

import os
from datetime import datetime, timedelta

from airflow import DAG
from airflow.operators.bash import BashOperator

JOB_DIR = os.environ.get("DAILY_JOB_DIR", "/srv/batch/daily")
# One make at a time per job directory (the same lock as the cron line).
MAKE = "flock .lock make --no-print-directory"

default_args = {
    "owner": "batch",
    "retries": 2,
    "retry_delay": timedelta(minutes=5),
    "retry_exponential_backoff": True,
}

with DAG(
    dag_id="batchkit_daily",
    description="batchkit's daily medallion job: bronze, silver, gate, gold, report",
    schedule="30 2 * * *",
    start_date=datetime(2024, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=default_args,
    tags=["batchkit"],
) as dag:
    bronze = BashOperator(
        task_id="bronze",
        bash_command=f"{MAKE} bronze/orders/_SUCCESS",
        cwd=JOB_DIR,
    )
    silver = BashOperator(
        task_id="silver",
        bash_command=f"{MAKE} silver/{{{{ ds }}}}.tsv",
        cwd=JOB_DIR,
    )
    gate = BashOperator(
        task_id="quality_gate",
        bash_command=f"{MAKE} gate/{{{{ ds }}}}.json",
        cwd=JOB_DIR,
        # A failed check is a data problem: retrying will not fix it.
        retries=0,
    )
    gold = BashOperator(
        task_id="gold",
        bash_command=f"{MAKE} gold/users/{{{{ ds }}}}.tsv gold/country/{{{{ ds }}}}.tsv",
        cwd=JOB_DIR,
    )
    report = BashOperator(
        task_id="report",
        bash_command=f"{MAKE} gold",
        cwd=JOB_DIR,
    )
    bronze >> silver >> gate >> gold >> report
