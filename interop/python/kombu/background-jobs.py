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

Checks: JobResults.verify in lib/catalogue.py (every job done once with the right digest,
a second result only for a redelivery, worker 0's stalled job finished by another worker
as a redelivery, worker 0 killed after exactly its 300 jobs); the ConfirmWindow saw every
job acked and none nacked; both queues are empty at the end, then deleted.
"""

import signal
import socket
import subprocess

import kombu

from catalogue import (JOB_WINDOW, JOB_WORKERS, JOBS, JobResults, job, job_worker_argv,
                       stop_workers)
from interop_common import Deadline, Worker, amqp_uri, check_eq, main, unique
from kombu_confirms import ConfirmWindow

JOBS_Q = kombu.Queue(unique("jobs"), durable=True)
RESULTS_Q = kombu.Queue(unique("job-results"), durable=True)


def publish_jobs():
    with kombu.Connection(amqp_uri()) as conn:
        channel = conn.channel()
        confirms = ConfirmWindow(conn, channel)
        producer = kombu.Producer(channel, serializer="json")
        for i in range(JOBS):
            producer.publish(job(i), routing_key=JOBS_Q.name, delivery_mode=2, retry=False)
            confirms.published()
            confirms.wait(JOB_WINDOW)
        confirms.wait(0)
        check_eq(confirms.nacked, [], "nacked jobs")
        return confirms.acked


def scenario():
    with kombu.Connection(amqp_uri()) as conn:
        channel = conn.channel()
        jobs_q, results_q = JOBS_Q(channel), RESULTS_Q(channel)
        jobs_q.declare()
        results_q.declare()

        procs = [subprocess.Popen(job_worker_argv(__file__, JOBS_Q.name, RESULTS_Q.name, w))
                 for w in range(JOB_WORKERS)]
        collected = JobResults()
        try:
            publisher = Worker(publish_jobs, name="publisher")
            publisher.start()

            def on_result(msg, message):
                message.ack()
                if collected.record(msg):
                    procs[0].send_signal(signal.SIGKILL)
                    procs[0].wait(10)

            with kombu.Consumer(conn.channel(), queues=[RESULTS_Q], callbacks=[on_result],
                                accept=["json"], prefetch_count=100):
                deadline = Deadline(90)
                while not collected.complete() and not deadline.expired():
                    try:
                        conn.drain_events(timeout=min(5, deadline.remaining()))
                    except socket.timeout:
                        if not publisher.is_alive() and publisher.error is not None:
                            raise publisher.error
            check_eq(publisher.join_checked(30), JOBS, "jobs published and acked")
        finally:
            stop_workers(procs)

        collected.verify(procs[0].returncode)

        for q in (jobs_q, results_q):
            check_eq(q.queue_declare(passive=True).message_count, 0, "messages left in %s" % q.name)
            q.delete()


if __name__ == "__main__":
    main(scenario)
