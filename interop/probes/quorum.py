#!/usr/bin/env python3
"""Probe what a broker answers for quorum-queue cases, as JSON lines (case, answer).

Run it against RabbitMQ (the reference) and against Warren, then diff the two outputs:

    python3 interop/probes/quorum.py amqp://guest:guest@127.0.0.1:5672/%2F \
        http://127.0.0.1:15672 > rabbit.jsonl
    python3 interop/probes/quorum.py amqp://guest:guest@127.0.0.1:5640/%2F \
        http://127.0.0.1:15640 > warren.jsonl
    diff rabbit.jsonl warren.jsonl

Needs pika (interop/python/requirements.txt). Queue names carry a per-run suffix, which the
output replaces with `*`; every queue it declares is deleted at the end.
"""

import base64
import json
import sys
import time
import urllib.request

import pika

URI = sys.argv[1] if len(sys.argv) > 1 else "amqp://guest:guest@127.0.0.1:5672/%2F"
MGMT = sys.argv[2] if len(sys.argv) > 2 else "http://127.0.0.1:15672"
RUN = "%x" % (int(time.time() * 1000) & 0xFFFFFF)
CREATED = []


def name(case):
    q = f"qq-probe-{case}-{RUN}"
    CREATED.append(q)
    return q


def scrub(value):
    """Replaces the run suffix so outputs of two runs compare."""
    return json.loads(json.dumps(value).replace(RUN, "*"))


def emit(case, answer):
    print(json.dumps({"case": case, "answer": scrub(answer)}, sort_keys=True), flush=True)


def connect():
    return pika.BlockingConnection(pika.URLParameters(URI))


def closed(exc):
    """The reply of a channel or connection close, as [code, text]."""
    args = getattr(exc, "args", ())
    if len(args) >= 2:
        return [args[0], args[1]]
    return [type(exc).__name__, str(exc)]


def declare(case, qname, args=None, durable=True, exclusive=False, auto_delete=False,
            passive=False):
    conn = connect()
    try:
        ch = conn.channel()
        ok = ch.queue_declare(qname, durable=durable, exclusive=exclusive,
                              auto_delete=auto_delete, arguments=args or {}, passive=passive)
        emit(case, ["ok", ok.method.queue])
    except (pika.exceptions.ChannelClosedByBroker,
            pika.exceptions.ConnectionClosedByBroker) as exc:
        emit(case, closed(exc))
    finally:
        if conn.is_open:
            conn.close()


def mgmt(path, method="GET", body=None):
    req = urllib.request.Request(MGMT + path, method=method)
    req.add_header("Authorization", "Basic " + base64.b64encode(b"guest:guest").decode())
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, data=data, timeout=10) as resp:
            text = resp.read()
            return resp.status, (json.loads(text) if text else None)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")


QQ = {"x-queue-type": "quorum"}


def declare_cases():
    declare("exclusive", name("excl"), QQ, exclusive=True)
    declare("non-durable", name("nondur"), QQ, durable=False)
    declare("auto-delete", name("autodel"), QQ, auto_delete=True)
    declare("exclusive+auto-delete", name("exad"), QQ, exclusive=True, auto_delete=True)
    declare("non-durable+auto-delete", name("ndad"), QQ, durable=False, auto_delete=True)
    declare("server-named", "", QQ)
    declare("server-named non-durable", "", QQ, durable=False)
    cases = {
        "x-max-priority": {"x-max-priority": 5},
        "x-queue-mode lazy": {"x-queue-mode": "lazy"},
        "x-queue-mode default": {"x-queue-mode": "default"},
        "x-queue-version 2": {"x-queue-version": 2},
        "x-queue-master-locator": {"x-queue-master-locator": "min-masters"},
        "x-overflow reject-publish-dlx": {"x-overflow": "reject-publish-dlx"},
        "x-max-length + reject-publish-dlx": {"x-max-length": 1,
                                              "x-overflow": "reject-publish-dlx"},
        "x-overflow reject-publish": {"x-overflow": "reject-publish"},
        "x-overflow drop-head": {"x-overflow": "drop-head"},
        "x-overflow bad": {"x-overflow": "bad"},
        "x-delivery-limit 3": {"x-delivery-limit": 3},
        "x-delivery-limit 0": {"x-delivery-limit": 0},
        "x-delivery-limit -1": {"x-delivery-limit": -1},
        "x-delivery-limit string": {"x-delivery-limit": "three"},
        "x-dead-letter-strategy at-least-once": {"x-dead-letter-strategy": "at-least-once"},
        "x-dead-letter-strategy at-most-once": {"x-dead-letter-strategy": "at-most-once"},
        "x-dead-letter-strategy bad": {"x-dead-letter-strategy": "bad"},
        "x-dead-letter-strategy int": {"x-dead-letter-strategy": 1},
        "x-quorum-initial-group-size 0": {"x-quorum-initial-group-size": 0},
        "x-quorum-initial-group-size -1": {"x-quorum-initial-group-size": -1},
        "x-quorum-initial-group-size 5": {"x-quorum-initial-group-size": 5},
        "x-quorum-initial-group-size string": {"x-quorum-initial-group-size": "3"},
        "x-queue-leader-locator client-local": {"x-queue-leader-locator": "client-local"},
        "x-queue-leader-locator balanced": {"x-queue-leader-locator": "balanced"},
        "x-queue-leader-locator random": {"x-queue-leader-locator": "random"},
        "x-queue-leader-locator bad": {"x-queue-leader-locator": "bad"},
        "x-max-in-memory-length 10": {"x-max-in-memory-length": 10},
        "x-max-in-memory-length -1": {"x-max-in-memory-length": -1},
        "x-max-in-memory-bytes 1000": {"x-max-in-memory-bytes": 1000},
        "x-message-ttl 1000": {"x-message-ttl": 1000},
        "x-expires 100000": {"x-expires": 100000},
        "x-single-active-consumer": {"x-single-active-consumer": True},
        "x-max-age": {"x-max-age": "1D"},
        "x-initial-cluster-size": {"x-initial-cluster-size": 1},
        "x-stream-max-segment-size-bytes": {"x-stream-max-segment-size-bytes": 1000},
    }
    for case, extra in cases.items():
        declare(case, name(case.replace(" ", "_")), {**QQ, **extra})


def redeclare_cases():
    conn = connect()
    ch = conn.channel()
    classic = name("classic")
    quorum = name("quorum")
    ch.queue_declare(classic, durable=True)
    ch.queue_declare(quorum, durable=True, arguments=QQ)
    conn.close()
    declare("redeclare classic as quorum", classic, QQ)
    declare("redeclare quorum without x-queue-type", quorum, {})
    declare("redeclare quorum as classic", quorum, {"x-queue-type": "classic"})
    declare("redeclare quorum same", quorum, QQ)
    declare("redeclare quorum passive", quorum, {}, passive=True)
    declare("redeclare quorum with delivery-limit", quorum, {**QQ, "x-delivery-limit": 2})
    declare("redeclare quorum non-durable", quorum, QQ, durable=False)
    declare("redeclare quorum exclusive", quorum, QQ, exclusive=True)


def global_qos_case():
    conn = connect()
    ch = conn.channel()
    q = name("gqos")
    ch.queue_declare(q, durable=True, arguments=QQ)
    try:
        ch.basic_qos(prefetch_count=10, global_qos=True)
        ch.basic_consume(q, lambda *a: None)
        conn.process_data_events(time_limit=1)
        emit("global qos then consume", ["ok"])
    except (pika.exceptions.ChannelClosedByBroker,
            pika.exceptions.ConnectionClosedByBroker) as exc:
        emit("global qos then consume", [type(exc).__name__] + closed(exc))
    if conn.is_open:
        conn.close()
    # Per-consumer qos (global=false) is fine; global qos + basic.get?
    conn = connect()
    ch = conn.channel()
    try:
        ch.basic_qos(prefetch_count=10, global_qos=True)
        m, _, _ = ch.basic_get(q)
        emit("global qos then basic.get", ["ok", m is None])
    except (pika.exceptions.ChannelClosedByBroker,
            pika.exceptions.ConnectionClosedByBroker) as exc:
        emit("global qos then basic.get", [type(exc).__name__] + closed(exc))
    if conn.is_open:
        conn.close()
    conn = connect()
    ch = conn.channel()
    try:
        ch.basic_consume(q, lambda *a: None, exclusive=True)
        emit("exclusive consumer", ["ok"])
    except (pika.exceptions.ChannelClosedByBroker,
            pika.exceptions.ConnectionClosedByBroker) as exc:
        emit("exclusive consumer", closed(exc))
    if conn.is_open:
        conn.close()


def headers_of(props):
    h = dict(props.headers or {})
    if "x-death" in h:
        h["x-death"] = [
            {k: (v.decode() if isinstance(v, bytes) else v) for k, v in d.items()
             if k != "time"} for d in h["x-death"]]
    return h


def publish(ch, q, body, **props):
    ch.basic_publish("", q, body, pika.BasicProperties(**props))


def consume_one(ch, q, timeout=5):
    for method, props, body in ch.consume(q, inactivity_timeout=timeout):
        if method is None:
            return None
        return method, props, body
    return None


def delivery_count_cases():
    conn = connect()
    ch = conn.channel()
    ch.confirm_delivery()
    q = name("dc-get")
    ch.queue_declare(q, durable=True, arguments=QQ)
    publish(ch, q, b"m1")
    seen = []
    for _ in range(3):
        m, props, _ = ch.basic_get(q)
        seen.append([m.redelivered, headers_of(props)])
        ch.basic_reject(m.delivery_tag, requeue=True)
    m, props, _ = ch.basic_get(q)
    seen.append([m.redelivered, headers_of(props)])
    ch.basic_nack(m.delivery_tag, requeue=True)
    m, props, _ = ch.basic_get(q)
    seen.append([m.redelivered, headers_of(props)])
    ch.basic_ack(m.delivery_tag)
    emit("basic.get then reject x3, nack x1", seen)

    # Consumer deliveries: first, then reject requeue, nack requeue.
    q = name("dc-consume")
    ch.queue_declare(q, durable=True, arguments=QQ)
    publish(ch, q, b"m1", headers={"own": "h"})
    seen = []
    # One consumer throughout (cancelling a pika consumer nacks what it buffered, which
    # would count deliveries).
    verdicts = iter(["reject", "nack", "ack"])
    ch.basic_qos(prefetch_count=1)
    for method, props, _ in ch.consume(q, inactivity_timeout=5):
        if method is None:
            break
        seen.append([method.redelivered, headers_of(props)])
        verdict = next(verdicts)
        if verdict == "reject":
            ch.basic_reject(method.delivery_tag, requeue=True)
        elif verdict == "nack":
            ch.basic_nack(method.delivery_tag, requeue=True)
        else:
            ch.basic_ack(method.delivery_tag)
            break
    ch.cancel()
    ch.basic_qos(prefetch_count=0)
    emit("consume: reject, nack, ack", seen)

    # Unacked at channel close, then at connection close.
    q = name("dc-close")
    ch.queue_declare(q, durable=True, arguments=QQ)
    publish(ch, q, b"m1")
    seen = []
    ch2 = conn.channel()
    method, props, _ = consume_one(ch2, q)
    seen.append(["first", method.redelivered, headers_of(props)])
    ch2.close()
    conn2 = connect()
    ch3 = conn2.channel()
    method, props, _ = consume_one(ch3, q)
    seen.append(["after channel close", method.redelivered, headers_of(props)])
    conn2.close()
    method, props, _ = consume_one(ch, q)
    seen.append(["after connection close", method.redelivered, headers_of(props)])
    ch.cancel()
    ch.basic_recover(requeue=True)
    method, props, _ = consume_one(ch, q)
    seen.append(["after basic.recover", method.redelivered, headers_of(props)])
    ch.basic_ack(method.delivery_tag)
    ch.cancel()
    emit("unacked at channel/connection close, basic.recover", seen)

    # basic.get with no-ack, and a consumer with no-ack: header on first delivery?
    q = name("dc-noack")
    ch.queue_declare(q, durable=True, arguments=QQ)
    publish(ch, q, b"m1")
    publish(ch, q, b"m2")
    m, props, _ = ch.basic_get(q, auto_ack=True)
    a = headers_of(props)
    for method, props, body in ch.consume(q, auto_ack=True, inactivity_timeout=5):
        b = headers_of(props)
        break
    ch.cancel()
    emit("no-ack basic.get / consume headers", [a, b])
    conn.close()


def delivery_limit_cases():
    conn = connect()
    ch = conn.channel()
    ch.confirm_delivery()
    # Limit 2, no DLX: how many deliveries, then what?
    q = name("dl-drop")
    ch.queue_declare(q, durable=True, arguments={**QQ, "x-delivery-limit": 2})
    publish(ch, q, b"poison")
    publish(ch, q, b"second")
    seen = []
    for _ in range(6):
        m, props, body = ch.basic_get(q)
        if m is None:
            seen.append(None)
            break
        seen.append([body.decode(), m.redelivered, headers_of(props)])
        if body == b"poison":
            ch.basic_reject(m.delivery_tag, requeue=True)
        else:
            ch.basic_ack(m.delivery_tag)
    emit("x-delivery-limit 2 without DLX (get/reject)", seen)

    # Limit 0
    q = name("dl-zero")
    ch.queue_declare(q, durable=True, arguments={**QQ, "x-delivery-limit": 0})
    publish(ch, q, b"poison")
    seen = []
    for _ in range(3):
        m, props, body = ch.basic_get(q)
        if m is None:
            seen.append(None)
            break
        seen.append([body.decode(), m.redelivered, headers_of(props)])
        ch.basic_reject(m.delivery_tag, requeue=True)
    emit("x-delivery-limit 0 (get/reject)", seen)

    # Limit 1 with DLX to a classic queue.
    dlq = name("dl-dlq")
    ch.queue_declare(dlq, durable=True)
    q = name("dl-dlx")
    ch.queue_declare(q, durable=True, arguments={**QQ, "x-delivery-limit": 1,
                                                 "x-dead-letter-exchange": "",
                                                 "x-dead-letter-routing-key": dlq})
    publish(ch, q, b"poison", headers={"own": "h"}, delivery_mode=2)
    seen = []
    for _ in range(4):
        m, props, body = ch.basic_get(q)
        if m is None:
            seen.append(None)
            break
        seen.append([body.decode(), m.redelivered, headers_of(props)])
        ch.basic_nack(m.delivery_tag, requeue=True)
    for _ in range(50):
        m, props, body = ch.basic_get(dlq)
        if m is not None:
            break
        time.sleep(0.1)
    seen.append(["dead-lettered", body.decode() if m else None, m and m.routing_key,
                 m and m.exchange, headers_of(props) if m else None,
                 props.delivery_mode if m else None])
    emit("x-delivery-limit 1 with DLX (get/nack)", seen)

    # Limit 1, consumer channel closes twice.
    q = name("dl-close")
    ch.queue_declare(q, durable=True, arguments={**QQ, "x-delivery-limit": 1})
    publish(ch, q, b"poison")
    publish(ch, q, b"sentinel")
    seen = []
    for _ in range(3):
        c2 = conn.channel()
        c2.basic_qos(prefetch_count=1)
        method, props, body = consume_one(c2, q)
        seen.append([body.decode(), method.redelivered, headers_of(props)])
        c2.close()
        if body == b"sentinel":
            break
    emit("x-delivery-limit 1, channel close with unacked", seen)

    # Policy delivery-limit.
    q = name("dl-policy")
    status, _ = mgmt(f"/api/policies/%2F/qq-probe-{RUN}", "PUT",
                     {"pattern": f"^qq-probe-dl-policy-{RUN}$", "apply-to": "queues",
                      "definition": {"delivery-limit": 1}, "priority": 0})
    ch.queue_declare(q, durable=True, arguments=QQ)
    publish(ch, q, b"poison")
    seen = [status]
    for _ in range(4):
        m, props, body = ch.basic_get(q)
        if m is None:
            seen.append(None)
            break
        seen.append([body.decode(), m.redelivered, headers_of(props)])
        ch.basic_reject(m.delivery_tag, requeue=True)
    _, info = wait_queue(q)
    seen.append(info.get("effective_policy_definition") if isinstance(info, dict) else info)
    mgmt(f"/api/policies/%2F/qq-probe-{RUN}", "DELETE")
    emit("policy delivery-limit 1", seen)
    conn.close()


def wait_queue(q):
    for _ in range(30):
        status, info = mgmt(f"/api/queues/%2F/{q}")
        if status == 200 and isinstance(info, dict) and "messages" in info:
            return status, info
        time.sleep(0.2)
    return status, info


def feature_cases():
    conn = connect()
    ch = conn.channel()
    ch.confirm_delivery()
    # Message priority is ignored (FIFO).
    q = name("prio")
    ch.queue_declare(q, durable=True, arguments=QQ)
    publish(ch, q, b"low", priority=1)
    publish(ch, q, b"high", priority=9)
    order = []
    for _ in range(2):
        m, _, body = ch.basic_get(q, auto_ack=True)
        order.append(body.decode())
    emit("message priority order", order)

    # Per-queue message TTL on a quorum queue.
    q = name("ttl")
    ch.queue_declare(q, durable=True, arguments={**QQ, "x-message-ttl": 200})
    publish(ch, q, b"expires")
    time.sleep(1.0)
    m, _, _ = ch.basic_get(q, auto_ack=True)
    emit("x-message-ttl 200 then get after 1s", m is None)

    # Per-message TTL.
    q = name("msgttl")
    ch.queue_declare(q, durable=True, arguments=QQ)
    publish(ch, q, b"expires", expiration="200")
    time.sleep(1.0)
    m, _, _ = ch.basic_get(q, auto_ack=True)
    emit("per-message expiration 200 then get after 1s", m is None)

    # Transient message: delivery_mode as delivered.
    q = name("transient")
    ch.queue_declare(q, durable=True, arguments=QQ)
    publish(ch, q, b"t", delivery_mode=1)
    m, props, _ = ch.basic_get(q, auto_ack=True)
    emit("transient message delivery_mode on get", props.delivery_mode)
    publish(ch, q, b"t", delivery_mode=1)
    _, info = wait_queue(q)
    emit("transient message counts",
         {k: info.get(k) for k in ["messages_persistent", "messages_ram",
                                   "message_bytes_persistent", "messages"]})

    # x-max-length with reject-publish: nack to a confirming publisher.
    q = name("maxlen")
    ch.queue_declare(q, durable=True, arguments={**QQ, "x-max-length": 1,
                                                 "x-overflow": "reject-publish"})
    publish(ch, q, b"a")
    try:
        publish(ch, q, b"b")
        emit("x-max-length 1 reject-publish second publish", "acked")
    except pika.exceptions.NackError:
        emit("x-max-length 1 reject-publish second publish", "nacked")

    # reject-publish: what is acked and nacked around the limit (2), before and after gets.
    q = name("maxlen2")
    ch.queue_declare(q, durable=True, arguments={**QQ, "x-max-length": 2,
                                                 "x-overflow": "reject-publish"})
    res = []
    for i in range(9):
        if i == 6:
            ch.basic_get(q, auto_ack=True)
            ch.basic_get(q, auto_ack=True)
        try:
            publish(ch, q, b"%d" % i)
            res.append("ack")
        except pika.exceptions.NackError:
            res.append("nack")
    res.append(ch.queue_declare(q, passive=True).method.message_count)
    emit("x-max-length 2 reject-publish: 6 publishes, 2 gets, 3 publishes, count", res)

    # Header order when x-delivery-count is added.
    q = name("order")
    ch.queue_declare(q, durable=True, arguments=QQ)
    publish(ch, q, b"x", headers={"zz": 1, "aa": 2})
    m, props, _ = ch.basic_get(q, auto_ack=True)
    emit("header order on get", list(props.headers.keys()))

    # x-max-length drop-head.
    q = name("drophead")
    ch.queue_declare(q, durable=True, arguments={**QQ, "x-max-length": 1})
    publish(ch, q, b"a")
    publish(ch, q, b"b")
    m, _, body = ch.basic_get(q, auto_ack=True)
    emit("x-max-length 1 default overflow keeps", body.decode())
    conn.close()


def mgmt_cases():
    conn = connect()
    ch = conn.channel()
    q = name("mgmt")
    ch.queue_declare(q, durable=True, arguments={**QQ, "x-delivery-limit": 5})
    ch.confirm_delivery()
    publish(ch, q, b"x")
    conn.close()
    _, info = wait_queue(q)
    if isinstance(info, dict):
        emit("mgmt queue keys", sorted(info.keys()))
        emit("mgmt queue fields", {k: info.get(k) for k in
                                   ["type", "durable", "auto_delete", "exclusive",
                                    "arguments", "leader", "members", "online", "node",
                                    "state", "messages", "messages_ready",
                                    "consumer_capacity", "open_files",
                                    "single_active_consumer_tag"]})
    status, listing = mgmt("/api/queues/%2F?columns=name,type,leader,members,online")
    if isinstance(listing, list):
        emit("mgmt listing row", [r for r in listing if r.get("name") == q])
    status, defs = mgmt("/api/definitions/%2F")
    if isinstance(defs, dict):
        emit("definitions queue", [d for d in defs.get("queues", []) if d["name"] == q])
    # A quorum queue through the HTTP API.
    hq = name("http")
    status, body = mgmt(f"/api/queues/%2F/{hq}", "PUT",
                        {"durable": True, "arguments": {"x-queue-type": "quorum"}})
    emit("http PUT quorum queue", [status, body])
    status, body = mgmt(f"/api/queues/%2F/{name('httpnd')}", "PUT",
                        {"durable": False, "arguments": {"x-queue-type": "quorum"}})
    emit("http PUT non-durable quorum queue", [status, body])
    status, body = mgmt(f"/api/queues/%2F/{name('httpad')}", "PUT",
                        {"durable": True, "auto_delete": True,
                         "arguments": {"x-queue-type": "quorum"}})
    emit("http PUT auto-delete quorum queue", [status, body])


def cleanup():
    conn = connect()
    for q in CREATED:
        if not q:
            continue
        ch = conn.channel()
        try:
            ch.queue_delete(q)
            ch.close()
        except pika.exceptions.ChannelClosedByBroker:
            pass
    conn.close()


def main():
    try:
        declare_cases()
        redeclare_cases()
        global_qos_case()
        delivery_count_cases()
        delivery_limit_cases()
        feature_cases()
        mgmt_cases()
    finally:
        cleanup()


if __name__ == "__main__":
    main()
