"""The scenario catalogue's client-independent parts, shared by the Python clients.

Every Python client (pika BlockingConnection, SelectConnection, AsyncioConnection,
aio-pika, kombu) runs the same catalogue scenarios (/work/interop-plan.md) in its own
idiom. What does not depend on the client lives here: the numbers, the message bodies and
how they are derived, the expected routing outcomes, and the checks over what a scenario
collected. The AMQP calls themselves stay in each scenario file.
"""

import hashlib
import json
import os
import random
import signal
import struct
import sys
import threading

from interop_common import check, check_eq, unique

# --- background-jobs ----------------------------------------------------------------------

JOBS = int(os.environ.get("INTEROP_JOBS", "10000"))
JOB_WORKERS = 4
STALL_AFTER = 300  # worker 0 stalls mid-job after this many jobs
JOB_WINDOW = 500  # publisher confirms in flight


def job_payload(i):
    return "job-%d-" % i + "x" * (i % 100)


def job(i):
    """The job message for job i (JSON-serialisable)."""
    return {"id": i, "payload": job_payload(i)}


def job_body(i):
    return json.dumps(job(i)).encode()


def job_digest(payload):
    return hashlib.sha256(payload.encode()).hexdigest()


def job_result(job_msg, worker_id, redelivered):
    """What a worker publishes to the results queue once it has done `job_msg`."""
    return {"job": job_msg["id"], "worker": worker_id, "redelivered": bool(redelivered),
            "digest": job_digest(job_msg["payload"])}


def stall_notice(job_msg, worker_id):
    """What the stalling worker publishes for the job it hangs on."""
    return {"stalled": job_msg["id"], "worker": worker_id}


def job_worker_path(scenario_file):
    """The job worker program next to a background-jobs scenario (helpers/job_worker.py)."""
    return os.path.join(os.path.dirname(os.path.abspath(scenario_file)), "helpers",
                        "job_worker.py")


def job_worker_argv(scenario_file, jobs_queue, results_queue, worker_id):
    """The command line of job worker `worker_id`; worker 0 is told to stall."""
    args = [sys.executable, job_worker_path(scenario_file), jobs_queue, results_queue,
            str(worker_id)]
    if worker_id == 0:
        args.append(str(STALL_AFTER))
    return args


def job_worker_options(argv=None):
    """(jobs_queue, results_queue, worker_id, stall_after or None) from a worker's argv."""
    argv = sys.argv if argv is None else argv
    stall = int(argv[4]) if len(argv) > 4 else None
    return argv[1], argv[2], int(argv[3]), stall


def stop_workers(procs):
    """End the job worker processes (subprocess.Popen) still running, waiting for each."""
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait(10)


async def stop_workers_async(procs):
    """End the job worker processes (asyncio subprocesses) still running."""
    import asyncio

    for p in procs:
        if p.returncode is None:
            p.kill()
            await asyncio.wait_for(p.wait(), 10)


class JobResults:
    """The results queue's messages as the scenario collects them, and the final checks."""

    def __init__(self):
        self.results = {}  # job id -> first result message
        self.duplicates = []  # later results for a job already done
        self.stalled = []  # job ids announced as stalled
        self.by_worker = [0] * JOB_WORKERS

    def record(self, msg):
        """Record one decoded results-queue message; True if it is worker 0's stall notice
        (the scenario then kills worker 0)."""
        if "stalled" in msg:
            check_eq(msg["worker"], 0, "the worker that stalled")
            self.stalled.append(msg["stalled"])
            return True
        if msg["job"] in self.results:
            self.duplicates.append(msg)
        else:
            self.results[msg["job"]] = msg
            self.by_worker[msg["worker"]] += 1
        return False

    def complete(self):
        return len(self.results) >= JOBS

    def verify(self, worker0_returncode, duplicates_allowed=True):
        """The catalogue's checks: worker 0 announced exactly one stalled job and was killed
        by SIGKILL; every job has a result with the right digest; a second result is
        tolerated only for a redelivered job (with duplicates_allowed; otherwise there must
        be none); worker 0 did exactly STALL_AFTER jobs, none after stalling; the stalled
        job was finished by another worker, flagged redelivered."""
        check(self.stalled, "worker 0 never stalled (it did %d jobs)" % self.by_worker[0])
        check_eq(len(self.stalled), 1, "stall announcements from worker 0")
        stalled = self.stalled[0]
        check_eq(worker0_returncode, -signal.SIGKILL, "worker 0's exit status")
        check_eq(len(self.results), JOBS, "jobs with a result")
        if duplicates_allowed:
            check_eq([d for d in self.duplicates if not d["redelivered"]], [],
                     "jobs done twice without a redelivered flag")
        else:
            check_eq(self.duplicates, [], "jobs done more than once")
        check_eq(self.by_worker[0], STALL_AFTER, "jobs done by worker 0 (none after it stalled)")
        for i, r in self.results.items():
            check_eq(r["digest"], job_digest(job_payload(i)), "digest of job %d" % i)
        check(self.results[stalled]["worker"] != 0,
              "the stalled job was finished by another worker")
        check_eq(self.results[stalled]["redelivered"], True, "redelivered flag on the stalled job")
        print("jobs per worker: %s; stalled job %d; %d duplicates"
              % (self.by_worker, stalled, len(self.duplicates)))


# --- order-pipeline -----------------------------------------------------------------------

ORDERS = 300
ORDER_REGIONS = ("eu", "us", "ap")
ORDER_SERVICES = ("inventory", "payment", "email")
ORDER_QUEUES = ORDER_SERVICES + ("rejected",)
# Binding key of each queue on the orders exchange ("rejected" is bound to the DLX).
ORDER_BINDINGS = {"inventory": "order.created.*", "payment": "order.created.*",
                  "email": "order.#"}


def order_names():
    """Fresh names for one order-pipeline run: (orders exchange, dead-letter exchange,
    {queue role: queue name})."""
    return (unique("orders"), unique("orders-dlx"),
            {name: unique("orders-" + name) for name in ORDER_QUEUES})


def order_fails(i):
    """Payment fails these orders (rejected without requeue, so dead-lettered)."""
    return i % 7 == 3


ORDER_GOOD = [i for i in range(ORDERS) if not order_fails(i)]
ORDER_BAD = [i for i in range(ORDERS) if order_fails(i)]


def order(i):
    """The order message for order i (JSON-serialisable)."""
    return {"id": i, "region": ORDER_REGIONS[i % 3]}


def order_body(i):
    return json.dumps(order(i)).encode()


def order_key(i):
    return "order.created." + ORDER_REGIONS[i % 3]


def order_message_id(i):
    return "order-%d" % i


ACK, REQUEUE, DEAD_LETTER = "ack", "requeue", "dead-letter"


class OrderServices:
    """What inventory, payment and e-mail saw, their decisions and the final checks.

    Thread-safe, so services on their own threads can share one."""

    def __init__(self):
        self.lock = threading.Lock()
        self.seen = {name: [] for name in ORDER_SERVICES}
        self.completed = []  # ids payment processed successfully
        self.redelivered = []  # ids payment got with redelivered=True

    def handle(self, service, order_id, redelivered):
        """Record a delivery to `service`; return what the service does with it: ACK,
        REQUEUE (payment, order 0 the first time) or DEAD_LETTER (payment, failing ids)."""
        with self.lock:
            self.seen[service].append(order_id)
            if service != "payment":
                return ACK
            if order_id == 0 and not redelivered:
                return REQUEUE
            if redelivered:
                self.redelivered.append(order_id)
            if order_fails(order_id):
                return DEAD_LETTER
            self.completed.append(order_id)
            return ACK

    def finished(self):
        with self.lock:
            return (len(self.seen["inventory"]) >= ORDERS and len(self.seen["email"]) >= ORDERS
                    and len(self.completed) + len(ORDER_BAD) >= ORDERS)

    def progress(self):
        return "inventory %d, e-mail %d, payment completed %d" % (
            len(self.seen["inventory"]), len(self.seen["email"]), len(self.completed))

    def verify(self):
        """Inventory and e-mail saw every id exactly once; payment completed exactly the
        non-failing ids, each once; payment got every id once and order 0 twice (the
        requeue), and only order 0 came redelivered."""
        everything = list(range(ORDERS))
        check_eq(sorted(self.seen["inventory"]), everything, "inventory ids (each once)")
        check_eq(sorted(self.seen["email"]), everything, "e-mail ids (each once)")
        check_eq(sorted(self.completed), ORDER_GOOD, "payments completed (each once)")
        check_eq(sorted(self.seen["payment"]), sorted(everything + [0]),
                 "payment deliveries (order 0 twice)")
        check_eq(self.redelivered, [0], "orders redelivered to payment")


def check_dead_lettered(body, message_id, headers, payment_queue, exchange):
    """Check one message from "rejected" (body, message id, and x-death[0]: the payment
    queue, reason "rejected", count 1, the orders exchange, the original routing key);
    return its order id."""
    msg = json.loads(body) if isinstance(body, (bytes, str)) else body
    check_eq(msg, order(msg["id"]), "dead-lettered order body")
    check_eq(message_id, order_message_id(msg["id"]), "dead-lettered message id")
    death = headers["x-death"][0]
    check_eq((death["queue"], death["reason"], death["count"], death["exchange"]),
             (payment_queue, "rejected", 1, exchange), "x-death entry")
    check_eq(list(death["routing-keys"]), [order_key(msg["id"])], "x-death routing keys")
    return msg["id"]


def check_rejected(rejected_ids):
    check_eq(rejected_ids, ORDER_BAD, "dead-lettered orders, in order")


# --- load-levelling -----------------------------------------------------------------------

BURST = int(os.environ.get("INTEROP_BURST", "100000"))
BURST_QUEUES = 2  # message i goes to queue i % 2


def burst_body(i):
    """Message i of the burst: the sequence number (8 bytes, big-endian) and 32 bytes of
    padding."""
    return struct.pack(">Q", i) + b"." * 32


def burst_sequence(q):
    """The sequence numbers queue q must hold, in order."""
    return range(q, BURST, BURST_QUEUES)


def check_burst_message(q, body, expected, redelivered):
    """One drained message of queue q: the next sequence number, not redelivered."""
    seq = struct.unpack(">Q", body[:8])[0]
    if seq != expected:
        check(False, "queue %d: got %d, expected %d" % (q, seq, expected))
    if redelivered:
        check(False, "message %d flagged redelivered" % seq)


def report_burst(started, published, drained):
    print("published %d in %.1fs, drained in %.1fs"
          % (BURST, published - started, drained - published))


# --- pubsub -------------------------------------------------------------------------------

FANOUT_MESSAGES = 100
FANOUT_SUBSCRIBERS = 3
FANOUT_END = "end"  # the marker published after the messages


def fanout_body(i):
    return "news %d" % i


def fanout_expected(encode=False):
    """What every fanout subscriber must get before the end marker, in order (str, or bytes
    with encode)."""
    return [fanout_body(i).encode() if encode else fanout_body(i)
            for i in range(FANOUT_MESSAGES)]

# Binding arguments of headers queues A and B.
HEADER_BINDINGS = {"A": {"x-match": "all", "format": "pdf", "type": "report"},
                   "B": {"x-match": "any", "format": "zip", "type": "log"}}
# (body, headers, the queue it must reach or None).
HEADER_MESSAGES = [
    ("pdf-report", {"format": "pdf", "type": "report"}, "A"),
    ("pdf-log", {"format": "pdf", "type": "log"}, "B"),
    ("zip", {"format": "zip"}, "B"),
    ("pdf", {"format": "pdf"}, None),
    ("pdf-report-extra", {"format": "pdf", "type": "report", "extra": 1}, "A"),
    ("no-headers", None, None),
]


def header_expected(queue, encode=False):
    """The bodies headers queue `queue` ("A" or "B") must hold, in order (str, or bytes with
    encode)."""
    return [body.encode() if encode else body
            for body, _headers, dest in HEADER_MESSAGES if dest == queue]


# --- large-and-small ----------------------------------------------------------------------

LARGE_SIZE = 16 * 1024 * 1024
SMALL_COUNT = 10000


def large_message():
    """The 16 MiB body (reproducible pseudo-random bytes) and its SHA-256 (hex), which the
    scenarios also send as header "sha256"."""
    body = random.Random(16).randbytes(LARGE_SIZE)
    return body, hashlib.sha256(body).hexdigest()


def check_large(got, headers, digest):
    """The consumed 16 MiB message: length, SHA-256 and the "sha256" header."""
    check_eq(len(got), LARGE_SIZE, "length of the consumed 16 MiB body")
    check_eq(hashlib.sha256(got).hexdigest(), digest, "SHA-256 of the body")
    check_eq(headers, {"sha256": digest}, "headers of the large message")


def small_body(i):
    """Small message i: i % 101 bytes (0..100, the first one empty)."""
    return bytes((i + k) % 256 for k in range(i % 101))


def check_small(n, got):
    """Small message n must come back exactly (bytes)."""
    expected = small_body(n)
    check(got == expected, "small message %d: expected %r, got %r" % (n, expected, got))


# --- rpc ----------------------------------------------------------------------------------

RPC_SEQUENTIAL = 15  # calls 0..14, one at a time
RPC_BATCH = list(range(20, 45))  # then 25 calls in flight at once


def fib(n):
    """What the RPC server computes for request n."""
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


def check_rpc_served(served):
    """The order the server took requests in: the sequential calls in order, then each
    batch call once."""
    check_eq(served[:RPC_SEQUENTIAL], list(range(RPC_SEQUENTIAL)),
             "sequential requests served in order")
    check_eq(sorted(served[RPC_SEQUENTIAL:]), RPC_BATCH, "batch requests served once each")
