"""RabbitMQ tutorial 2, "Work queues": new_task.py and two worker.py with a BlockingConnection.

Tasks go to a durable queue as persistent messages. Two workers, each on its own connection,
set basic_qos(prefetch_count=1) and ack manually after the work is done. The first task is a
long one: its worker holds it (unacked) until the other worker has finished every other task.
With prefetch 1 the broker must not hand the busy worker anything more, so the other worker
gets exactly the remaining tasks; without fair dispatch the scenario times out.
"""

import threading

import pika

from interop_common import Worker, check, check_eq, main, pika_params, unique

QUEUE = unique("task_queue")
TASKS = ["long task ....."] + ["task %d ." % i for i in range(1, 10)]


def new_task():
    connection = pika.BlockingConnection(pika_params())
    channel = connection.channel()
    channel.queue_declare(queue=QUEUE, durable=True)
    for message in TASKS:
        channel.basic_publish(
            exchange="",
            routing_key=QUEUE,
            body=message.encode(),
            properties=pika.BasicProperties(delivery_mode=pika.DeliveryMode.Persistent),
        )
    connection.close()


class Shared:
    def __init__(self):
        self.lock = threading.Lock()
        self.done = {}  # worker name -> list of task bodies acked
        self.others_done = threading.Event()
        self.all_done = threading.Event()
        self.holder = None
        self.errors = []


def worker(name, ready, shared):
    connection = pika.BlockingConnection(pika_params())
    channel = connection.channel()
    channel.queue_declare(queue=QUEUE, durable=True)
    channel.basic_qos(prefetch_count=1)

    def callback(ch, method, properties, body):
        text = body.decode()
        if properties.delivery_mode != 2:
            shared.errors.append("%s: delivery_mode %r" % (text, properties.delivery_mode))
        if text.startswith("long"):
            with shared.lock:
                shared.holder = name
            # The long task: keep it unacked until every other task is done elsewhere.
            if not shared.others_done.wait(30):
                shared.errors.append("%s held the long task; the others never finished" % name)
        ch.basic_ack(delivery_tag=method.delivery_tag)
        with shared.lock:
            shared.done.setdefault(name, []).append(text)
            finished = sum(len(v) for v in shared.done.values())
            short_done = sum(1 for v in shared.done.values() for t in v if not t.startswith("long"))
        if short_done == len(TASKS) - 1:
            shared.others_done.set()
        if finished == len(TASKS):
            shared.all_done.set()

    channel.basic_consume(queue=QUEUE, on_message_callback=callback)
    ready.set()
    while not shared.all_done.is_set() and not shared.errors:
        connection.process_data_events(time_limit=0.2)
    connection.close()


def scenario():
    shared = Shared()
    # Declare first so both workers can start consuming before any task is published.
    connection = pika.BlockingConnection(pika_params())
    connection.channel().queue_declare(queue=QUEUE, durable=True)
    connection.close()

    workers = []
    for name in ("worker-a", "worker-b"):
        ready = threading.Event()
        w = Worker(worker, name, ready, shared, name=name)
        w.start()
        w.wait_ready(ready, 30)
        workers.append(w)

    new_task()
    check(shared.all_done.wait(60) or shared.errors, "tasks were not all acked within 60s")
    for w in workers:
        w.join_checked(30)
    check(not shared.errors, "; ".join(shared.errors))

    holder = shared.holder
    other = "worker-b" if holder == "worker-a" else "worker-a"
    check_eq(shared.done.get(holder), [TASKS[0]], "tasks done by the worker holding the long task")
    check_eq(shared.done.get(other), TASKS[1:], "tasks done by the other worker, in order")

    connection = pika.BlockingConnection(pika_params())
    channel = connection.channel()
    ok = channel.queue_declare(queue=QUEUE, durable=True, passive=True)
    check_eq(ok.method.message_count, 0, "tasks left in the queue")
    channel.queue_delete(queue=QUEUE)
    connection.close()


if __name__ == "__main__":
    main(scenario)
