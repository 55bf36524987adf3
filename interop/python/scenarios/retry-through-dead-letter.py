"""Retry through a dead-letter queue with a delay (pika BlockingConnection).

The common RabbitMQ retry pattern: a work queue dead-letters rejected messages to a retry
exchange; the retry queue holds them for a TTL and dead-letters them back to the work
exchange. A worker that fails a job the first two times it sees it rejects it
(requeue=false); the job comes back through the retry queue with an x-death history that
counts its trips, and succeeds on the third attempt. Checks: every job is done exactly
once, failing jobs come back with x-death counts 1 then 2 for (work queue, rejected) and
(retry queue, expired), first-death headers name the work queue, nothing is left behind.
"""

import pika

from interop_common import check, check_eq, main, pika_params, unique


def death(headers, queue, reason):
    for entry in headers.get("x-death", []):
        if entry["queue"] == queue and entry["reason"] == reason:
            return entry
    return None


def scenario():
    connection = pika.BlockingConnection(pika_params())
    channel = connection.channel()
    work_x, retry_x = unique("retry-work-x"), unique("retry-retry-x")
    work_q, retry_q = unique("retry-work-q"), unique("retry-retry-q")
    channel.exchange_declare(work_x, "direct")
    channel.exchange_declare(retry_x, "direct")
    channel.queue_declare(work_q, arguments={"x-dead-letter-exchange": retry_x})
    channel.queue_declare(retry_q, arguments={
        "x-dead-letter-exchange": work_x,
        "x-message-ttl": 50,
    })
    channel.queue_bind(work_q, work_x, "job")
    channel.queue_bind(retry_q, retry_x, "job")

    channel.confirm_delivery()
    jobs = [f"job-{i}" for i in range(10)]
    flaky = {"job-3", "job-7"}
    for job in jobs:
        channel.basic_publish(work_x, "job", job.encode(), pika.BasicProperties(message_id=job))

    attempts = {}
    done = []
    histories = {}

    def on_message(ch, method, props, body):
        job = body.decode()
        attempts[job] = attempts.get(job, 0) + 1
        if job in flaky and attempts[job] < 3:
            histories.setdefault(job, []).append(props.headers or {})
            ch.basic_reject(method.delivery_tag, requeue=False)
            return
        if job in flaky:
            histories.setdefault(job, []).append(props.headers or {})
        done.append(job)
        ch.basic_ack(method.delivery_tag)
        if len(done) == len(jobs):
            ch.stop_consuming()

    channel.basic_qos(prefetch_count=5)
    channel.basic_consume(work_q, on_message)
    connection.call_later(30, channel.stop_consuming)
    channel.start_consuming()

    check_eq(sorted(done), sorted(jobs), "every job done exactly once")
    for job in flaky:
        check_eq(attempts[job], 3, f"attempts of {job}")
        first, second, third = histories[job]
        check_eq(first, {}, f"{job} on its first attempt has no x-death")
        for n, headers in ((1, second), (2, third)):
            rejected = death(headers, work_q, "rejected")
            expired = death(headers, retry_q, "expired")
            check(rejected is not None and expired is not None, f"{job} x-death entries: {headers}")
            check_eq((rejected["count"], expired["count"]), (n, n), f"{job} x-death counts")
            check_eq(rejected["exchange"], work_x, f"{job} rejected-from exchange")
            check_eq(rejected["routing-keys"], ["job"], f"{job} routing keys")
            check_eq((headers["x-first-death-queue"], headers["x-first-death-reason"]),
                     (work_q, "rejected"), f"{job} first death")
    for job in set(jobs) - flaky:
        check_eq(attempts[job], 1, f"attempts of {job}")

    for q in (work_q, retry_q):
        check_eq(channel.queue_declare(q, passive=True).method.message_count, 0, f"{q} empty")
        channel.queue_delete(q)
    channel.exchange_delete(work_x)
    channel.exchange_delete(retry_x)
    connection.close()


if __name__ == "__main__":
    main(scenario)
