#!/usr/bin/env python3
"""Compare Warren's management HTTP API with a real RabbitMQ's, shape by shape.

Not run by CI (it needs a real RabbitMQ). Usage:

    python3 interop/admin/compare_shapes.py \
        [--rabbit http://127.0.0.1:15672 --rabbit-amqp 5672] \
        [--warren http://127.0.0.1:15673 --warren-amqp 5673] [--only SECTION,...] [--keep]

Start Warren beside RabbitMQ on other ports first, for example:

    WARREN_SERVER__LISTEN=127.0.0.1:5673 WARREN_MANAGEMENT__LISTEN=127.0.0.1:15673 \
    WARREN_PROMETHEUS__LISTEN=127.0.0.1:15693 target/debug/warren --data-dir /tmp/w-cmp

On both brokers (as guest, who must be an administrator allowed from localhost) the script
builds the same small topology, every name prefixed `mgmtfix-`: a vhost, users with each
management tag and permissions there, a queue with arguments holding a few messages (one
persistent), an exchange, queue and exchange bindings, a policy and an operator policy,
vhost and user limits, and a pika connection with a channel and a consumer holding one
unacknowledged message. Then it

* `shapes`: GETs every endpoint Warren serves and diffs the JSON key sets and value types
  (lists are reduced to the union of their elements' shapes, keeping only elements of the
  script's vhost where elements name a vhost);
* `errors`: sends bad requests (no or wrong credentials, unknown objects, bad JSON, bad
  arguments, wrong methods) and diffs status codes and the `error`/`reason` bodies;
* `paging`: diffs the values of pagination, sorting, filtering and `columns` answers;
* `policy`: diffs the effective policy fields of queues whose arguments, policy and operator
  policy set the same keys;
* `tags`: diffs what users with each tag (none, management, monitoring, policymaker) may
  see and do.

It prints one line per difference (`-` only RabbitMQ, `+` only Warren, `~` different) and
removes everything it made unless `--keep` is given. Type differences between integers and
floats are reported as `num` because JSON readers in most tools do not tell them apart.
"""

import argparse
import json
import sys
import time
import urllib.parse

import pika
import requests

PREFIX = "mgmtfix-"
VHOST = PREFIX + "v"
Q = PREFIX + "q"
QP = PREFIX + "qp"  # precedence queue
CQ = PREFIX + "cq"
X = PREFIX + "x"
X2 = PREFIX + "x2"
PASSWORD = "mgmtfix-secret"
TAG_USERS = {
    PREFIX + "none": "",
    PREFIX + "mgmt": "management",
    PREFIX + "mon": "monitoring",
    PREFIX + "pol": "policymaker",
}


def enc(name):
    return urllib.parse.quote(name, safe="")


V = enc(VHOST)


class Broker:
    """One broker under test: its API base URL and AMQP port."""

    def __init__(self, label, base, amqp_port):
        self.label = label
        self.base = base.rstrip("/") + "/api"
        self.amqp_port = amqp_port
        self.conns = []
        self.conn_name = None
        self.channel_name = None

    def call(self, method, path, body=None, auth=("guest", "guest"), raw=None, headers=None):
        kwargs = {"auth": auth, "timeout": 30, "headers": headers or {}}
        if raw is not None:
            kwargs["data"] = raw
            kwargs["headers"].setdefault("content-type", "application/json")
        elif body is not None:
            kwargs["json"] = body
        r = requests.request(method, self.base + path, **kwargs)
        try:
            value = r.json() if r.content else None
        except ValueError:
            value = {"<text>": r.text[:200]}
        return r.status_code, value

    def must(self, method, path, body=None):
        status, value = self.call(method, path, body)
        if status >= 300:
            raise SystemExit(f"{self.label}: {method} {path} -> {status} {value}")
        return value

    def amqp(self, user="guest", vhost=VHOST):
        params = pika.ConnectionParameters(
            host="127.0.0.1",
            port=self.amqp_port,
            virtual_host=vhost,
            credentials=pika.PlainCredentials(user, "guest" if user == "guest" else PASSWORD),
            client_properties={"connection_name": PREFIX + "conn-" + user},
        )
        conn = pika.BlockingConnection(params)
        self.conns.append(conn)
        return conn

    def setup(self):
        self.teardown(quiet=True)
        self.must("PUT", f"/vhosts/{V}", {"description": "mgmtfix", "tags": "a,b"})
        self.must("PUT", f"/permissions/{V}/guest", {"configure": ".*", "write": ".*", "read": ".*"})
        for user, tags in TAG_USERS.items():
            self.must("PUT", f"/users/{enc(user)}", {"password": PASSWORD, "tags": tags})
            self.must("PUT", f"/permissions/{V}/{enc(user)}",
                      {"configure": ".*", "write": ".*", "read": ".*"})
        self.must("PUT", f"/topic-permissions/{V}/{enc(PREFIX + 'mgmt')}",
                  {"exchange": X, "write": "^a", "read": ".*"})
        self.must("PUT", f"/queues/{V}/{enc(Q)}",
                  {"durable": True, "arguments": {"x-max-length": 100, "x-message-ttl": 600000}})
        self.must("PUT", f"/queues/{V}/{enc(QP)}",
                  {"durable": True, "arguments": {"x-max-length": 100, "x-message-ttl": 60000,
                                                  "x-expires": 3600000}})
        self.must("PUT", f"/queues/{V}/{enc(CQ)}", {"durable": False, "auto_delete": False})
        self.must("PUT", f"/exchanges/{V}/{enc(X)}", {"type": "topic", "durable": True})
        self.must("PUT", f"/exchanges/{V}/{enc(X2)}", {"type": "fanout", "durable": False})
        self.must("POST", f"/bindings/{V}/e/{enc(X)}/q/{enc(Q)}",
                  {"routing_key": "a.#", "arguments": {"x-k": "v"}})
        self.must("POST", f"/bindings/{V}/e/{enc(X)}/e/{enc(X2)}", {"routing_key": "b"})
        self.must("PUT", f"/policies/{V}/{PREFIX}p",
                  {"pattern": "^mgmtfix-qp$", "apply-to": "queues", "priority": 1,
                   "definition": {"max-length": 50, "message-ttl": 120000, "expires": 1800000}})
        self.must("PUT", f"/operator-policies/{V}/{PREFIX}op",
                  {"pattern": "^mgmtfix-qp$", "apply-to": "queues", "priority": 1,
                   "definition": {"max-length": 30, "message-ttl": 240000, "expires": 900000}})
        self.must("PUT", f"/vhost-limits/{V}/max-connections", {"value": 100})
        self.must("PUT", f"/user-limits/{enc(PREFIX + 'mon')}/max-channels", {"value": 10})
        for i in range(3):
            self.must("POST", f"/exchanges/{V}/{enc(X)}/publish",
                      {"routing_key": "a.b", "payload": f"m{i}", "payload_encoding": "string",
                       "properties": {"delivery_mode": 2 if i == 0 else 1}})
        # A connection with a channel, a consumer and one unacked message.
        conn = self.amqp()
        ch = conn.channel()
        ch.basic_qos(prefetch_count=5)
        ch.basic_publish("", CQ, b"unacked", pika.BasicProperties(delivery_mode=2))
        ch.basic_publish("", CQ, b"unacked2")
        ch.basic_consume(CQ, lambda *a: None, auto_ack=False, consumer_tag=PREFIX + "ctag")
        conn.process_data_events(time_limit=0.5)
        self.conn = conn
        # Let the stats catch up (RabbitMQ emits them every 5 s).
        deadline = time.time() + 12
        while time.time() < deadline:
            conns = self.must("GET", f"/vhosts/{V}/connections")
            chans = self.must("GET", f"/vhosts/{V}/channels")
            q = self.must("GET", f"/queues/{V}/{enc(Q)}")
            if conns and chans and q.get("messages") == 3 and "recv_oct" in conns[0]:
                self.conn_name = conns[0]["name"]
                self.channel_name = chans[0]["name"]
                break
            time.sleep(0.5)
            conn.process_data_events(time_limit=0.1)
        if self.conn_name is None:
            raise SystemExit(f"{self.label}: connection never showed up")
        time.sleep(5.5)  # one more stats round for rates and details

    def teardown(self, quiet=False):
        for c in self.conns:
            try:
                c.close()
            except Exception:
                pass
        self.conns = []
        for user in TAG_USERS:
            self.call("DELETE", f"/users/{enc(user)}")
        self.call("DELETE", f"/vhosts/{V}")


def shape(value, path="", out=None, vhost_filter=True):
    """Flattens `value` to {path: type}; list elements are unioned under `path[]`."""
    if out is None:
        out = {}
    if isinstance(value, dict):
        out[path] = "object"
        for k, v in value.items():
            shape(v, f"{path}.{k}", out, vhost_filter)
    elif isinstance(value, list):
        out[path] = "list"
        items = value
        if vhost_filter and value and all(isinstance(i, dict) and "vhost" in i for i in value):
            items = [i for i in value if i.get("vhost") == VHOST]
        for item in items:
            shape(item, f"{path}[]", out, vhost_filter)
    elif isinstance(value, bool):
        out[path] = "bool"
    elif isinstance(value, (int, float)):
        out[path] = "int" if isinstance(value, int) else "float"
    elif value is None:
        out[path] = "null"
    else:
        out[path] = "str"
    return out


# Paths below these are free-form (client properties, arguments, breakdowns by name, …).
FREE = (".client_properties.", ".arguments.", ".applications[]", ".listeners[]",
        ".contexts[]", ".exchange_types[]", ".auth_mechanisms[]", ".enabled_plugins[]",
        ".sample_retention_policies.", ".properties.headers.", ".backing_queue_status.",
        ".garbage_collection.", ".metrics_gc_queue_length.", ".cluster_links[]",
        ".mnesia_", ".ra_", ".msg_store_", ".io_", ".gc_", ".context_switches",
        ".queue_index_", ".connection_created", ".connection_closed", ".channel_created",
        ".channel_closed", ".queue_declared", ".queue_created", ".queue_deleted",
        ".persister_stats", ".effective_policy_definition.", ".definition.",
        ".churn_rates.", ".metadata.", ".exchange_types", ".memory.", ".statistics_db_")


def free(path):
    return any(f in path + "." for f in FREE)


def diff_shapes(name, a, b):
    lines = []
    sa, sb = shape(a), shape(b)
    for k in sorted(set(sa) | set(sb)):
        if free(k) and not k.endswith(".memory"):
            continue
        ta, tb = sa.get(k), sb.get(k)
        if ta == tb:
            continue
        if ta is None:
            lines.append(f"  + {k}: {tb}")
        elif tb is None:
            lines.append(f"  - {k}: {ta}")
        elif {ta, tb} == {"int", "float"}:
            lines.append(f"  num {k}: rabbit {ta}, warren {tb}")
        else:
            lines.append(f"  ~ {k}: rabbit {ta}, warren {tb}")
    return lines


def endpoints(b):
    """The GET endpoints to compare, as (label, path)."""
    node = b.must("GET", "/overview")["node"]
    c = enc(b.conn_name)
    ch = enc(b.channel_name)
    mon = enc(PREFIX + "mon")
    return [
        ("overview", "/overview"),
        ("cluster-name", "/cluster-name"),
        ("nodes", "/nodes"),
        ("nodes/{n}", f"/nodes/{enc(node)}"),
        ("nodes/{n}?memory=true", f"/nodes/{enc(node)}?memory=true"),
        ("nodes/{n}/memory", f"/nodes/{enc(node)}/memory"),
        ("vhosts", "/vhosts"),
        ("vhosts/{v}", f"/vhosts/{V}"),
        ("vhosts/{v}/permissions", f"/vhosts/{V}/permissions"),
        ("vhosts/{v}/topic-permissions", f"/vhosts/{V}/topic-permissions"),
        ("vhosts/{v}/connections", f"/vhosts/{V}/connections"),
        ("vhosts/{v}/channels", f"/vhosts/{V}/channels"),
        ("users", "/users"),
        ("users/{u}", f"/users/{mon}"),
        ("users/{u}/permissions", f"/users/{mon}/permissions"),
        ("users/{u}/topic-permissions", f"/users/{enc(PREFIX + 'mgmt')}/topic-permissions"),
        ("users/without-permissions", "/users/without-permissions"),
        ("whoami", "/whoami"),
        ("permissions", "/permissions"),
        ("permissions/{v}/{u}", f"/permissions/{V}/{mon}"),
        ("topic-permissions", "/topic-permissions"),
        ("topic-permissions/{v}/{u}", f"/topic-permissions/{V}/{enc(PREFIX + 'mgmt')}"),
        ("connections", "/connections"),
        ("connections/{c}", f"/connections/{c}"),
        ("connections/{c}/channels", f"/connections/{c}/channels"),
        ("channels", "/channels"),
        ("channels/{ch}", f"/channels/{ch}"),
        ("consumers", "/consumers"),
        ("consumers/{v}", f"/consumers/{V}"),
        ("exchanges", "/exchanges"),
        ("exchanges/{v}", f"/exchanges/{V}"),
        ("exchanges/{v}/{e}", f"/exchanges/{V}/{enc(X)}"),
        ("exchanges/{v}/amq.direct", f"/exchanges/{V}/amq.direct"),
        ("exchanges/{v}/{e}/bindings/source", f"/exchanges/{V}/{enc(X)}/bindings/source"),
        ("exchanges/{v}/{e}/bindings/destination",
         f"/exchanges/{V}/{enc(X2)}/bindings/destination"),
        ("bindings", "/bindings"),
        ("bindings/{v}", f"/bindings/{V}"),
        ("bindings/{v}/e/{x}/q/{q}", f"/bindings/{V}/e/{enc(X)}/q/{enc(Q)}"),
        ("bindings/{v}/e/{x}/e/{x2}", f"/bindings/{V}/e/{enc(X)}/e/{enc(X2)}"),
        ("bindings/{v}/e/{x}/q/{q}/{props}", None),  # filled in below
        ("queues", "/queues"),
        ("queues/{v}", f"/queues/{V}"),
        ("queues/{v}/{q}", f"/queues/{V}/{enc(Q)}"),
        ("queues/{v}/{qp}", f"/queues/{V}/{enc(QP)}"),
        ("queues/{v}/{cq}", f"/queues/{V}/{enc(CQ)}"),
        ("queues/{v}/{q}/bindings", f"/queues/{V}/{enc(Q)}/bindings"),
        ("policies", "/policies"),
        ("policies/{v}", f"/policies/{V}"),
        ("policies/{v}/{p}", f"/policies/{V}/{PREFIX}p"),
        ("operator-policies", "/operator-policies"),
        ("operator-policies/{v}", f"/operator-policies/{V}"),
        ("operator-policies/{v}/{p}", f"/operator-policies/{V}/{PREFIX}op"),
        ("vhost-limits", "/vhost-limits"),
        ("vhost-limits/{v}", f"/vhost-limits/{V}"),
        ("user-limits", "/user-limits"),
        ("user-limits/{u}", f"/user-limits/{mon}"),
        ("aliveness-test/{v}", f"/aliveness-test/{V}"),
        ("health/checks/alarms", "/health/checks/alarms"),
        ("health/checks/local-alarms", "/health/checks/local-alarms"),
        ("health/checks/virtual-hosts", "/health/checks/virtual-hosts"),
        ("health/checks/port-listener/{amqp}", f"/health/checks/port-listener/{b.amqp_port}"),
        ("health/checks/port-listener/1", "/health/checks/port-listener/1"),
        ("health/checks/protocol-listener/amqp", "/health/checks/protocol-listener/amqp"),
        ("health/checks/protocol-listener/mqtt", "/health/checks/protocol-listener/mqtt"),
    ]


def section_shapes(r, w):
    bad = 0
    props = {}
    for b in (r, w):
        bs = b.must("GET", f"/bindings/{V}/e/{enc(X)}/q/{enc(Q)}")
        props[b.label] = bs[0]["properties_key"] if bs else "~"
    for (label, rp), (_, wp) in zip(endpoints(r), endpoints(w)):
        if rp is None:
            rp = f"/bindings/{V}/e/{enc(X)}/q/{enc(Q)}/{enc(props['rabbit'])}"
            wp = f"/bindings/{V}/e/{enc(X)}/q/{enc(Q)}/{enc(props['warren'])}"
        rs, rv = r.call("GET", rp)
        ws, wv = w.call("GET", wp)
        lines = [] if rs == ws else [f"  ~ status: rabbit {rs}, warren {ws}"]
        lines += diff_shapes(label, rv, wv)
        if lines:
            bad += 1
            print(f"[shapes] GET {label}")
            print("\n".join(lines))
    # Answers to writes.
    for label, path, body in [
        ("publish", f"/exchanges/{V}/{enc(X)}/publish",
         {"routing_key": "zzz", "payload": "x", "payload_encoding": "string", "properties": {}}),
        ("get", f"/queues/{V}/{enc(Q)}/get",
         {"count": 2, "ackmode": "ack_requeue_true", "encoding": "auto"}),
        ("get base64", f"/queues/{V}/{enc(Q)}/get",
         {"count": "1", "ackmode": "ack_requeue_true", "encoding": "base64", "truncate": 1}),
    ]:
        rs, rv = r.call("POST", path, body)
        ws, wv = w.call("POST", path, body)
        lines = [] if rs == ws else [f"  ~ status: rabbit {rs}, warren {ws}"]
        lines += diff_shapes(label, rv, wv)
        if lines:
            bad += 1
            print(f"[shapes] POST {label}")
            print("\n".join(lines))
    return bad


def error_cases():
    nobody = (PREFIX + "nobody", "x")
    return [
        ("no credentials", "GET", "/overview", None, None, None),
        ("bad password", "GET", "/overview", None, ("guest", "wrong"), None),
        ("unknown user", "GET", "/overview", None, nobody, None),
        ("no tag", "GET", "/overview", None, (PREFIX + "none", PASSWORD), None),
        ("unknown vhost", "GET", "/queues/mgmtfix-nope", None, None, None),
        ("unknown vhost object", "GET", "/vhosts/mgmtfix-nope", None, None, None),
        ("unknown queue", "GET", f"/queues/{V}/nope", None, None, None),
        ("unknown exchange", "GET", f"/exchanges/{V}/nope", None, None, None),
        ("unknown user object", "GET", "/users/mgmtfix-nope", None, None, None),
        ("unknown connection", "GET", "/connections/nope", None, None, None),
        ("unknown channel", "GET", "/channels/nope", None, None, None),
        ("unknown policy", "GET", f"/policies/{V}/nope", None, None, None),
        ("unknown permission", "GET", f"/permissions/{V}/mgmtfix-nope", None, None, None),
        ("unknown path", "GET", "/nope", None, None, None),
        ("unknown node", "GET", "/nodes/nope@nowhere", None, None, None),
        ("bad json", "PUT", f"/queues/{V}/{PREFIX}bad", None, None, b"{not json"),
        ("json not object", "PUT", f"/queues/{V}/{PREFIX}bad", None, None, b"[1,2]"),
        ("bad arg type", "PUT", f"/queues/{V}/{PREFIX}bad",
         {"arguments": {"x-max-length": "many"}}, None, None),
        ("inequivalent", "PUT", f"/queues/{V}/{enc(Q)}", {"durable": False}, None, None),
        ("bad exchange type", "PUT", f"/exchanges/{V}/{PREFIX}badx", {"type": "nope"}, None, None),
        ("bad policy", "PUT", f"/policies/{V}/{PREFIX}badp", {"pattern": ".*"}, None, None),
        ("bad policy def", "PUT", f"/policies/{V}/{PREFIX}badp",
         {"pattern": ".*", "definition": {"max-length": "x"}}, None, None),
        ("bad permission regex", "PUT", f"/permissions/{V}/guest",
         {"configure": "(", "write": ".*", "read": ".*"}, None, None),
        ("user no password", "PUT", "/users/mgmtfix-x", {"tags": ""}, None, None),
        ("bad get count", "POST", f"/queues/{V}/{enc(Q)}/get",
         {"count": "x", "ackmode": "ack_requeue_true", "encoding": "auto"}, None, None),
        ("bad ackmode", "POST", f"/queues/{V}/{enc(Q)}/get",
         {"count": 1, "ackmode": "nope", "encoding": "auto"}, None, None),
        ("publish no payload", "POST", f"/exchanges/{V}/{enc(X)}/publish",
         {"routing_key": "a"}, None, None),
        ("bad page", "GET", "/queues?page=0", None, None, None),
        ("bad page size", "GET", "/queues?page=1&page_size=1000", None, None, None),
        ("page not number", "GET", "/queues?page=x", None, None, None),
        ("bad regex filter", "GET", "/queues?name=(&use_regex=true", None, None, None),
        ("wrong method", "POST", "/overview", {}, None, None),
        ("wrong method queue", "POST", f"/queues/{V}/{enc(Q)}", {}, None, None),
        ("delete default exchange", "DELETE", f"/exchanges/{V}/amq.default", None, None, None),
        ("delete amq exchange", "DELETE", f"/exchanges/{V}/amq.direct", None, None, None),
        ("declare amq exchange", "PUT", f"/exchanges/{V}/amq.mgmtfix", {"type": "direct"},
         None, None),
        ("unknown vhost limit", "PUT", f"/vhost-limits/{V}/max-nope", {"value": 1}, None, None),
        ("bad vhost limit", "PUT", f"/vhost-limits/{V}/max-queues", {"value": "x"}, None, None),
        ("aliveness unknown vhost", "GET", "/aliveness-test/mgmtfix-nope", None, None, None),
        ("delete unknown queue", "DELETE", f"/queues/{V}/nope", None, None, None),
        ("binding unknown", "GET", f"/bindings/{V}/e/{enc(X)}/q/{enc(Q)}/nope", None, None, None),
    ]


def section_errors(r, w):
    bad = 0
    for label, method, path, body, auth, raw in error_cases():
        answers = []
        for b in (r, w):
            kw = {"body": body, "raw": raw}
            if auth is None and label == "no credentials":
                kw["auth"] = None
            elif auth is not None:
                kw["auth"] = auth
            status, value = b.call(method, path, **kw)
            answers.append((status, value))
        (rs, rv), (ws, wv) = answers
        lines = []
        if rs != ws:
            lines.append(f"  ~ status: rabbit {rs}, warren {ws}")
        if isinstance(rv, dict) and isinstance(wv, dict):
            for k in sorted(set(rv) | set(wv)):
                if rv.get(k) != wv.get(k):
                    lines.append(f"  ~ {k}: rabbit {rv.get(k)!r}, warren {wv.get(k)!r}")
        elif rv != wv and not (rv is None and wv is None):
            lines.append(f"  ~ body: rabbit {str(rv)[:150]!r}, warren {str(wv)[:150]!r}")
        if lines:
            bad += 1
            print(f"[errors] {label}: {method} {path}")
            print("\n".join(lines))
    for b in (r, w):
        b.call("DELETE", f"/queues/{V}/{PREFIX}bad")
        b.call("DELETE", f"/exchanges/{V}/{PREFIX}badx")
        b.call("DELETE", f"/policies/{V}/{PREFIX}badp")
        b.call("DELETE", "/users/mgmtfix-x")
    return bad


def section_paging(r, w):
    bad = 0
    cases = [
        f"/queues/{V}?page=1&page_size=2",
        f"/queues/{V}?page=2&page_size=2&sort=name",
        f"/queues/{V}?page=1&page_size=2&sort=name&sort_reverse=true",
        f"/queues/{V}?page=1&page_size=10&name=qp&use_regex=false",
        f"/queues/{V}?page=1&page_size=10&name=^mgmtfix-c&use_regex=true",
        f"/queues/{V}?columns=name,messages,arguments.x-max-length",
        f"/queues/{V}?columns=name,message_stats.publish&sort=messages",
        f"/queues/{V}?sort=messages&sort_reverse=true&columns=name",
        f"/exchanges/{V}?page=1&page_size=3&sort=name&columns=name,type",
        f"/bindings/{V}?columns=source,destination,routing_key",
        f"/vhosts?columns=name&name=mgmtfix&page=1",
        f"/queues/{V}?page=5&page_size=2",
        f"/queues/{V}?pagination=true",
        f"/queues/{V}?lengths_age=60&lengths_incr=5&msg_rates_age=60&msg_rates_incr=5",
        f"/queues/{V}/{enc(Q)}?columns=name,durable",
        f"/queues/{V}?disable_stats=true&enable_queue_totals=true",
    ]
    for path in cases:
        rs, rv = r.call("GET", path)
        ws, wv = w.call("GET", path)
        lines = [] if rs == ws else [f"  ~ status: rabbit {rs}, warren {ws}"]

        def strip(v):
            if isinstance(v, dict):
                return {k: strip(x) for k, x in v.items()
                        if not k.endswith("_details") and k not in ("node", "idle_since")}
            if isinstance(v, list):
                return [strip(x) for x in v]
            return v
        if rs == ws == 200 and (("columns" in path or "page=" in path or "sort" in path)
                                and "disable" not in path):
            if strip(rv) != strip(wv):
                lines.append(f"  ~ values: rabbit {json.dumps(strip(rv))[:600]}")
                lines.append(f"           warren {json.dumps(strip(wv))[:600]}")
        else:
            lines += diff_shapes(path, rv, wv)
        if lines:
            bad += 1
            print(f"[paging] GET {path}")
            print("\n".join(lines))
    return bad


def section_policy(r, w):
    bad = 0
    keys = ("policy", "operator_policy", "effective_policy_definition", "arguments")
    rv = r.must("GET", f"/queues/{V}/{enc(QP)}")
    wv = w.must("GET", f"/queues/{V}/{enc(QP)}")
    for k in keys:
        if rv.get(k) != wv.get(k):
            bad += 1
            print(f"[policy] {k}: rabbit {rv.get(k)!r}, warren {wv.get(k)!r}")
    # Effective behaviour: publish 60 messages, the operator policy's max-length 30 wins.
    for b in (r, w):
        for i in range(60):
            b.must("POST", f"/exchanges/{V}/amq.default/publish",
                   {"routing_key": QP, "payload": str(i), "payload_encoding": "string",
                    "properties": {}})
    time.sleep(5.5)
    rn = r.must("GET", f"/queues/{V}/{enc(QP)}")["messages"]
    wn = w.must("GET", f"/queues/{V}/{enc(QP)}")["messages"]
    if rn != wn:
        bad += 1
        print(f"[policy] messages after 60 publishes: rabbit {rn}, warren {wn}")
    return bad


def tag_requests():
    q = f"/queues/{V}/{PREFIX}tagq"
    return [
        ("GET", "/overview", None),
        ("GET", "/whoami", None),
        ("GET", "/nodes", None),
        ("GET", "/vhosts", None),
        ("GET", "/vhosts/%2F", None),
        ("GET", f"/vhosts/{V}", None),
        ("GET", "/queues", None),
        ("GET", "/queues/%2F", None),
        ("GET", f"/queues/{V}", None),
        ("GET", "/exchanges", None),
        ("GET", "/bindings", None),
        ("GET", "/connections", None),
        ("GET", f"/connections/CONN", None),
        ("GET", "/channels", None),
        ("GET", f"/vhosts/{V}/connections", None),
        ("GET", "/consumers", None),
        ("GET", "/users", None),
        ("GET", f"/users/{enc(PREFIX + 'mon')}", None),
        ("GET", "/permissions", None),
        ("GET", f"/permissions/{V}/{enc(PREFIX + 'mon')}", None),
        ("GET", "/policies", None),
        ("GET", f"/policies/{V}", None),
        ("GET", "/operator-policies", None),
        ("GET", "/vhost-limits", None),
        ("GET", "/user-limits", None),
        ("GET", "/aliveness-test/%2F", None),
        ("GET", f"/aliveness-test/{V}", None),
        ("GET", "/health/checks/alarms", None),
        ("PUT", q, {"durable": False}),
        ("POST", f"/queues/{V}/{PREFIX}tagq/get",
         {"count": 1, "ackmode": "ack_requeue_true", "encoding": "auto"}),
        ("DELETE", f"/queues/{V}/{PREFIX}tagq/contents", None),
        ("POST", f"/exchanges/{V}/amq.default/publish",
         {"routing_key": "x", "payload": "x", "payload_encoding": "string", "properties": {}}),
        ("DELETE", q, None),
        ("PUT", "/queues/%2F/mgmtfix-tagq", {"durable": False}),
        ("PUT", f"/policies/{V}/{PREFIX}tagp", {"pattern": "^zz", "definition": {"max-length": 1}}),
        ("DELETE", f"/policies/{V}/{PREFIX}tagp", None),
        ("PUT", f"/policies/%2F/{PREFIX}tagp", {"pattern": "^zz", "definition": {"max-length": 1}}),
        ("PUT", f"/operator-policies/{V}/{PREFIX}tagop",
         {"pattern": "^zz", "definition": {"max-length": 1}}),
        ("PUT", f"/vhost-limits/{V}/max-queues", {"value": 1000}),
        ("DELETE", f"/vhost-limits/{V}/max-queues", None),
        ("PUT", "/vhosts/mgmtfix-tagv", {}),
        ("PUT", "/users/mgmtfix-tagu", {"password": "x", "tags": ""}),
        ("PUT", f"/permissions/{V}/guest", {"configure": ".*", "write": ".*", "read": ".*"}),
        ("DELETE", f"/connections/CONN", None),
    ]


def section_tags(r, w):
    bad = 0
    # Each tagged user opens its own connection so `management` scoping is visible.
    for b in (r, w):
        b.own = {}
        for user in (PREFIX + "mgmt", PREFIX + "mon"):
            c = b.amqp(user)
            c.channel()
        time.sleep(5.5)
        for user in (PREFIX + "mgmt",):
            conns = b.must("GET", f"/vhosts/{V}/connections")
            mine = [c["name"] for c in conns if c["user"] == user]
            b.own[user] = mine[0] if mine else "nope"

    def summary(v):
        if isinstance(v, list):
            names = sorted({str(i.get("vhost", "")) + "|" + str(i.get("name", i.get("user", "")))
                            for i in v if isinstance(i, dict)
                            and str(i.get("vhost", VHOST)) in (VHOST, "/")
                            and str(i.get("name", "")).find("mgmtfix") >= 0
                            or (isinstance(i, dict) and i.get("user", "").startswith("mgmtfix"))})
            return f"list[{len(v) > 0}] {names[:12]}"
        if isinstance(v, dict):
            return {k: v[k] for k in ("error", "reason") if k in v} or "object"
        return v
    for user in TAG_USERS:
        for method, path, body in tag_requests():
            answers = []
            for b in (r, w):
                p = path.replace("CONN", enc(b.own.get(PREFIX + "mgmt", "nope")))
                if method == "DELETE" and "connections" in p and user != PREFIX + "mon":
                    # Never close guest's connection; only the user's own.
                    pass
                status, value = b.call(method, p, body, auth=(user, PASSWORD))
                answers.append((status, summary(value)))
            (rs, rv), (ws, wv) = answers
            if rs != ws or (rv != wv and not (isinstance(rv, str) and rv.startswith("list")
                                               and path in ("/connections", "/channels"))):
                bad += 1
                print(f"[tags] {user} {method} {path}: rabbit {rs} {rv}; warren {ws} {wv}")
    for b in (r, w):
        b.call("DELETE", "/vhosts/mgmtfix-tagv")
        b.call("DELETE", "/users/mgmtfix-tagu")
        b.call("DELETE", "/queues/%2F/mgmtfix-tagq")
        b.call("DELETE", f"/policies/%2F/{PREFIX}tagp")
    return bad


SECTIONS = {
    "shapes": section_shapes,
    "errors": section_errors,
    "paging": section_paging,
    "policy": section_policy,
    "tags": section_tags,
}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rabbit", default="http://127.0.0.1:15672")
    p.add_argument("--rabbit-amqp", type=int, default=5672)
    p.add_argument("--warren", default="http://127.0.0.1:15673")
    p.add_argument("--warren-amqp", type=int, default=5673)
    p.add_argument("--only", default=",".join(SECTIONS))
    p.add_argument("--keep", action="store_true", help="leave the topology in place")
    args = p.parse_args()
    r = Broker("rabbit", args.rabbit, args.rabbit_amqp)
    w = Broker("warren", args.warren, args.warren_amqp)
    total = 0
    try:
        r.setup()
        w.setup()
        for name in args.only.split(","):
            total += SECTIONS[name](r, w)
    finally:
        if not args.keep:
            r.teardown()
            w.teardown()
    print(f"{total} difference(s)")
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
