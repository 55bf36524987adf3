"""kombu: background jobs with a pool of worker processes, one SIGKILLed mid-job.

A durable jobs queue and a results queue. Four worker processes (helpers/job_worker.py,
kombu ConsumerMixin, each its own connection, prefetch 10, manual acks) compute a SHA-256
of each job's payload, publish a result {job, worker, redelivered, digest}, then ack.
Worker 0 stalls after 300 jobs: it announces the job it holds and hangs with its prefetch
unacked; the scenario then kills it with SIGKILL. Meanwhile a publisher thread sends
INTEROP_JOBS (default 10,000) persistent JSON jobs through a Producer, with publisher
confirms, 500 in flight (kombu's `confirm_publish` option waits for each ack in turn, far
too slow for persistent messages, so the window uses py-amqp's basic_ack events: see
lib/kombu_confirms.py); all must be acked, none nacked.

Checks: every job has exactly one result with the right digest (a duplicate is tolerated
only if flagged redelivered); the job worker 0 was stuck on was done by another worker
with redelivered=True; worker 0 did exactly 300 jobs and nothing after stalling; the
queues end empty and are deleted.
"""

import hashlib
import os
import signal
import socket
import subprocess
import sys

import kombu

from interop_common import Deadline, Worker, amqp_uri, check, check_eq, main, unique
from kombu_confirms import ConfirmWindow

JOBS = int(os.environ.get("INTEROP_JOBS", "10000"))
WORKERS = 4
STALL_AFTER = 300
WINDOW = 500
JOBS_Q = kombu.Queue(unique("jobs"), durable=True)
RESULTS_Q = kombu.Queue(unique("job-results"), durable=True)
HELPER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "helpers", "job_worker.py")


def payload(i):
    return "job-%d-" % i + "x" * (i % 100)


def publish_jobs():
    with kombu.Connection(amqp_uri()) as conn:
        channel = conn.channel()
        confirms = ConfirmWindow(conn, channel)
        producer = kombu.Producer(channel, serializer="json")
        for i in range(JOBS):
            producer.publish({"id": i, "payload": payload(i)}, routing_key=JOBS_Q.name,
                             delivery_mode=2, retry=False)
            confirms.published()
            confirms.wait(WINDOW)
        confirms.wait(0)
        check_eq(confirms.nacked, [], "nacked jobs")
        return confirms.acked


def scenario():
    with kombu.Connection(amqp_uri()) as conn:
        channel = conn.channel()
        jobs_q, results_q = JOBS_Q(channel), RESULTS_Q(channel)
        jobs_q.declare()
        results_q.declare()

        procs = []
        for w in range(WORKERS):
            args = [sys.executable, HELPER, JOBS_Q.name, RESULTS_Q.name, str(w)]
            if w == 0:
                args.append(str(STALL_AFTER))
            procs.append(subprocess.Popen(args))
        results, duplicates, stalled = {}, [], []
        by_worker = [0] * WORKERS
        try:
            publisher = Worker(publish_jobs, name="publisher")
            publisher.start()

            def on_result(msg, message):
                message.ack()
                if "stalled" in msg:
                    check_eq(msg["worker"], 0, "the worker that stalled")
                    stalled.append(msg["stalled"])
                    procs[0].send_signal(signal.SIGKILL)
                    procs[0].wait(10)
                elif msg["job"] in results:
                    duplicates.append(msg)
                else:
                    results[msg["job"]] = msg
                    by_worker[msg["worker"]] += 1

            with kombu.Consumer(conn.channel(), queues=[RESULTS_Q], callbacks=[on_result],
                                accept=["json"], prefetch_count=100):
                deadline = Deadline(90)
                while len(results) < JOBS and not deadline.expired():
                    try:
                        conn.drain_events(timeout=min(5, deadline.remaining()))
                    except socket.timeout:
                        if not publisher.is_alive() and publisher.error is not None:
                            raise publisher.error
            check_eq(publisher.join_checked(30), JOBS, "jobs published and acked")
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait(10)

        check_eq(len(stalled), 1, "stall announcements from worker 0")
        stalled = stalled[0]
        check_eq(procs[0].returncode, -signal.SIGKILL, "worker 0's exit status")
        check_eq(len(results), JOBS, "jobs with a result")
        check_eq([d for d in duplicates if not d["redelivered"]], [],
                 "jobs done twice without a redelivered flag")
        check_eq(by_worker[0], STALL_AFTER, "jobs done by worker 0 (none after it stalled)")
        for i, r in results.items():
            check_eq(r["digest"], hashlib.sha256(payload(i).encode()).hexdigest(),
                     "digest of job %d" % i)
        check(results[stalled]["worker"] != 0, "the stalled job was finished by another worker")
        check_eq(results[stalled]["redelivered"], True, "redelivered flag on the stalled job")
        print("jobs per worker: %s; stalled job %d; %d duplicates"
              % (by_worker, stalled, len(duplicates)))

        for q in (jobs_q, results_q):
            check_eq(q.queue_declare(passive=True).message_count, 0, "messages left in %s" % q.name)
            q.delete()


if __name__ == "__main__":
    main(scenario)
