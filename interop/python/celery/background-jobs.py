"""Celery background jobs: two real workers, one SIGKILLed in the middle of a job.

A Celery client sends INTEROP_CELERY_JOBS (default 2,000) `job` tasks as one group
(rpc:// results). Two `celery worker` processes (prefork, concurrency 2, late acks,
prefetch multiplier 4) consume them; worker A stalls in its jobs once it has done 100, and the
scenario then kills A's whole process group with SIGKILL. Late acks mean A's unfinished
tasks (the stalled one and the ones it had prefetched) were never acked, so the broker
redelivers them to worker B. Checks: every job's result arrives, with the right digest; the
stalled job was done by B with `redelivered` in its delivery info; A did nothing after
stalling; every job ran exactly once, except that a job A finished but had not yet acked
may run again, redelivered, on B; the task queue ends empty.
"""

import hashlib
import os
import shutil
import sys
import tempfile
import time
import uuid

from interop_common import Deadline, check, check_eq, main, unique

HERE = os.path.dirname(os.path.abspath(__file__))
APP_DIR = os.path.join(HERE, "app")
QUEUE = unique("celery-jobs")
os.environ["INTEROP_CELERY_QUEUE"] = QUEUE
sys.path.insert(0, APP_DIR)

import celery  # noqa: E402
import tasks  # noqa: E402
from workers import WorkerProcess  # noqa: E402

JOBS = int(os.environ.get("INTEROP_CELERY_JOBS", "2000"))
STALL_AFTER = 100
RUN = uuid.uuid4().hex[:8]
NODE_A = "interop-jobs-a-%s@localhost" % RUN
NODE_B = "interop-jobs-b-%s@localhost" % RUN


def payload(i):
    return "job-%d-" % i + "x" * (i % 50)


def read_log(path):
    """The executions logged by the workers: (job, worker, redelivered) per line."""
    with open(path) as f:
        return [(int(j), w, r == "1") for j, w, r in (line.split() for line in f)]


def scenario():
    workdir = tempfile.mkdtemp(prefix="interop-celery-jobs-")
    log = os.path.join(workdir, "executions")
    open(log, "w").close()
    worker_a = WorkerProcess(NODE_A, QUEUE, env={"INTEROP_JOB_LOG": log,
                                                 "INTEROP_STALL_AFTER": str(STALL_AFTER)})
    worker_b = None
    try:
        result = celery.group(tasks.job.s(i, payload(i)) for i in range(JOBS)).apply_async()
        # B starts once A is busy, so that A gets its share of the jobs first.
        deadline = Deadline(60)
        while not os.path.exists(log + ".stalled"):
            check(not deadline.expired(), "worker A did not stall within 60 s")
            time.sleep(0.02)
        worker_b = WorkerProcess(NODE_B, QUEUE, env={"INTEROP_JOB_LOG": log})
        with open(log + ".stalled") as f:
            stalled = int(f.read())
        worker_a.kill()
        done_by_a = len(read_log(log))

        results = result.get(timeout=90)
        check_eq([r["job"] for r in results], list(range(JOBS)), "results, one per job, in order")
        for i, r in enumerate(results):
            check_eq(r["digest"], hashlib.sha256(payload(i).encode()).hexdigest(), "digest of job %d" % i)
        check_eq((results[stalled]["worker"], results[stalled]["redelivered"]), (NODE_B, True),
                 "worker and redelivered flag of the job A stalled in (%d)" % stalled)

        executions = read_log(log)
        check_eq(len([e for e in executions if e[1] == NODE_A]), done_by_a,
                 "jobs A did (none after it stalled)")
        # Its two pool processes check the count independently, so one may finish a job
        # while the other stalls.
        check(STALL_AFTER <= done_by_a <= STALL_AFTER + 1, "A did %d jobs before it stalled" % done_by_a)
        runs = {}
        for job, worker, redelivered in executions:
            runs.setdefault(job, []).append((worker, redelivered))
        check_eq(sorted(runs), list(range(JOBS)), "jobs executed")
        for job, seen in runs.items():
            # A job runs twice only if A finished it but died before its ack went out; the
            # second run is then B's, on the redelivered message.
            check(len(seen) == 1 or (len(seen) == 2 and seen[0][0] == NODE_A and seen[1] == (NODE_B, True)),
                  "job %d ran %r" % (job, seen))
        twice = [job for job, seen in runs.items() if len(seen) == 2]
        print("%d jobs; A stalled in job %d and was killed; run twice (finished, not acked): %s"
              % (JOBS, stalled, twice or "none"))
    finally:
        if worker_a.proc.poll() is None:
            worker_a.kill()
        worker_a.stop(tasks.app)
        if worker_b is not None:
            worker_b.stop(tasks.app)
        shutil.rmtree(workdir, ignore_errors=True)
    with tasks.app.connection_for_write() as conn:
        channel = conn.default_channel
        check_eq(channel.queue_declare(QUEUE, passive=True).message_count, 0, "tasks left")
        channel.queue_delete(QUEUE)
        channel.exchange_delete(QUEUE)


if __name__ == "__main__":
    main(scenario)
