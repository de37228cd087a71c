"""The django-q2 cluster as the service runs it (Q_CLUSTER in notifier/settings.py)."""

from __future__ import annotations

import pytest
from django_q.models import Task
from django_q.tasks import async_task

from tests.support.processes import ServiceProcess, service_env, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_it_runs_each_task_in_a_fresh_worker(tmp_path):
    # Q_CLUSTER["recycle"] = 1: a worker exits after one task and the sentinel forks a
    # new one, so what a polling loop allocated is given back (docs/performance.md).
    # Two workers without recycling would run three tasks in at most two processes.
    cluster = ServiceProcess("qcluster", ["qcluster"], service_env(), tmp_path)
    try:
        for n in range(3):
            async_task("os.getpid", task_name=f"which-worker-{n}")
        wait_until(
            lambda: Task.objects.filter(name__startswith="which-worker-").count() == 3,
            timeout=60,
            interval=0.3,
            what="three tasks to finish\n" + cluster.output()[-3000:],
        )
    finally:
        cluster.stop()
    tasks = Task.objects.filter(name__startswith="which-worker-")
    assert all(task.success for task in tasks), [task.result for task in tasks]
    assert len({task.result for task in tasks}) == 3, [task.result for task in tasks]
