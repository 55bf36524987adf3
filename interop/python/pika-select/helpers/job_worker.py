"""A background-job worker process for pika-select/background-jobs.py (not a scenario).

usage: job_worker.py JOBS_QUEUE RESULTS_QUEUE WORKER_ID [STALL_AFTER]

A SelectConnection client: prefetch 10, consumes JOBS_QUEUE with manual acks; for each
job it computes the SHA-256 of the payload, publishes a result (job id, worker id,
redelivered flag, digest) to RESULTS_QUEUE, then acks. With STALL_AFTER=n, after n jobs it
publishes {"stalled": id} for the job it holds and from then on neither acks nor
processes anything (its IOLoop still runs), until the scenario SIGKILLs it.
"""

import json
import sys

import pika

from catalogue import job_result, job_worker_options, stall_notice
from interop_common import pika_params


class JobWorker:
    def __init__(self, jobs_queue, results_queue, worker_id, stall_after):
        self.jobs_queue = jobs_queue
        self.results_queue = results_queue
        self.worker_id = worker_id
        self.stall_after = stall_after
        self.done = 0
        self.connection = pika.SelectConnection(
            pika_params(), on_open_callback=self.on_open,
            on_open_error_callback=lambda _c, err: sys.exit("connection failed: %r" % err),
            on_close_callback=lambda _c, reason: self.connection.ioloop.stop())

    def on_open(self, connection):
        connection.channel(on_open_callback=self.on_channel)

    def on_channel(self, channel):
        self.channel = channel
        channel.basic_qos(prefetch_count=10, callback=lambda _f: channel.basic_consume(
            self.jobs_queue, self.on_job))

    def publish(self, result):
        self.channel.basic_publish("", self.results_queue, json.dumps(result).encode())

    def on_job(self, channel, method, _props, body):
        job = json.loads(body)
        if self.stall_after == -1:
            return  # stalled: further deliveries stay unacked and unprocessed
        if self.stall_after is not None and self.done >= self.stall_after:
            # Stall mid-job: announce it, then neither ack nor process anything more (the
            # IOLoop keeps running so the announcement goes out), holding the prefetch.
            self.publish(stall_notice(job, self.worker_id))
            self.stall_after = -1
            return
        self.publish(job_result(job, self.worker_id, method.redelivered))
        channel.basic_ack(method.delivery_tag)
        self.done += 1


if __name__ == "__main__":
    JobWorker(*job_worker_options()).connection.ioloop.start()
