"""pika SelectConnection: background jobs, a pool of worker processes, one SIGKILLed.

A durable jobs queue and a results queue. Four worker processes (helpers/job_worker.py,
SelectConnection, prefetch 10, manual acks) compute a SHA-256 of each job's payload,
publish a result {job, worker, redelivered, digest}, then ack. Worker 0 stalls after 300
jobs: it announces the job it holds and stops, its prefetch unacked; the scenario
then kills it with SIGKILL. Meanwhile INTEROP_JOBS (default 10,000) persistent jobs are
published on a confirm-mode channel with a window of 500 unconfirmed (the ack callback
publishes more); all must be acked, none nacked.

Checks, once the loop has stopped: every delivery tag confirmed (ConfirmTracker), then
JobResults.verify from lib/catalogue.py: one result per job with its SHA-256, repeats only
for redelivered jobs, the job worker 0 stalled on completed elsewhere as a redelivery,
worker 0 SIGKILLed after exactly 300 jobs. The queues are empty before they are deleted.
"""

import json
import signal
import subprocess

import pika
from pika.spec import Basic

from catalogue import (JOB_WINDOW, JOB_WORKERS, JOBS, JobResults, job_body, job_worker_argv,
                       stop_workers)
from confirm_tracker import ConfirmTracker
from interop_common import check_eq, main, unique
from pika_async import SelectScenario

JOBS_Q = unique("jobs")
RESULTS_Q = unique("job-results")


class BackgroundJobs(SelectScenario):
    TIMEOUT = 100

    def __init__(self):
        super().__init__()
        self.procs = []
        self.confirms = ConfirmTracker()
        self.collected = JobResults()

    def start(self):
        self.connect(lambda conn: self.open_channel(conn, self.on_channel))

    def on_channel(self, ch):
        self.ch = ch
        self.chain([
            lambda cb: ch.queue_declare(JOBS_Q, durable=True, callback=cb),
            lambda cb: ch.queue_declare(RESULTS_Q, durable=True, callback=cb),
            lambda cb: ch.basic_consume(RESULTS_Q, self.cb(self.on_result), callback=cb),
        ], self.start_workers)

    def start_workers(self, _frames):
        for w in range(JOB_WORKERS):
            self.procs.append(subprocess.Popen(job_worker_argv(__file__, JOBS_Q, RESULTS_Q, w)))
        self.connect(lambda conn: self.open_channel(conn, self.on_publisher_channel))

    def on_publisher_channel(self, ch):
        self.publisher = ch
        ch.confirm_delivery(self.cb(self.on_confirm), callback=self.cb(self.publish_more))

    def publish_more(self, _frame=None):
        while self.confirms.published_count < JOBS and self.confirms.outstanding < JOB_WINDOW:
            self.publisher.basic_publish("", JOBS_Q, job_body(self.confirms.published_count),
                                         pika.BasicProperties(delivery_mode=2))
            self.confirms.published()

    def on_confirm(self, frame):
        m = frame.method
        self.confirms.settle(m.delivery_tag, m.multiple, isinstance(m, Basic.Ack))
        check_eq(self.confirms.nacked, [], "nacked jobs")
        self.publish_more()

    def on_result(self, ch, method, _props, body):
        ch.basic_ack(method.delivery_tag)
        if self.collected.record(json.loads(body)):
            self.procs[0].send_signal(signal.SIGKILL)
            self.procs[0].wait(10)
        if len(self.collected.results) == JOBS:
            ch.basic_cancel(method.consumer_tag, callback=self.cb(self.clean_up))

    def clean_up(self, _frame):
        ch = self.ch
        self.chain([
            lambda cb: ch.queue_declare(JOBS_Q, passive=True, callback=cb),
            lambda cb: ch.queue_declare(RESULTS_Q, passive=True, callback=cb),
            lambda cb: ch.queue_delete(JOBS_Q, callback=cb),
            lambda cb: ch.queue_delete(RESULTS_Q, callback=cb),
        ], self.done)

    def done(self, frames):
        check_eq(frames[0].method.message_count, 0, "jobs left")
        check_eq(frames[1].method.message_count, 0, "results left")
        self.succeed()


def scenario():
    s = BackgroundJobs()
    try:
        s.run()
    finally:
        stop_workers(s.procs)
    check_eq((s.confirms.acked, s.confirms.outstanding), (JOBS, 0), "jobs confirmed")
    s.collected.verify(s.procs[0].returncode)


if __name__ == "__main__":
    main(scenario)
