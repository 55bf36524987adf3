"""The steps of definitions_roundtrip.sh (see there); exits 1 on the first difference."""

import base64
import hashlib
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request

import pika

RABBIT = os.environ["RABBIT_MGMT"]
RABBIT_AMQP = int(os.environ["RABBIT_AMQP_PORT"])
WARREN = os.environ["WARREN_MGMT"]
WARREN_AMQP = int(os.environ["WARREN_AMQP_PORT"])
SRC, BACK, BACK2 = "defs-src", "defs-back", "defs-back2"
PASSWORDS = {
    "defs-admin": "defs-admin-pw",
    "defs-mon": "defs-mon-pw",
    "defs-pol": "defs-pol-pw",
    "defs-app": "defs-app-pw",
    "defs-sha512": "defs-sha512-pw",
    "defs-md5": "defs-md5-pw",
}


def call(base, method, path, body=None, raw=None):
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    req = urllib.request.Request(base + "/api" + path, data=data, method=method)
    req.add_header("Authorization", "Basic " + base64.b64encode(b"guest:guest").decode())
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req) as r:
            text = r.read()
            return r.status, (json.loads(text) if text else None)
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def ok(base, method, path, body=None, raw=None):
    status, answer = call(base, method, path, body, raw)
    if status >= 300:
        sys.exit(f"FAILED: {method} {base}{path}: {status} {answer}")
    return answer


def q(name):
    return urllib.parse.quote(name, safe="")


def hashed(algorithm, password):
    salt = os.urandom(4)
    return base64.b64encode(salt + hashlib.new(algorithm, salt + password.encode()).digest()).decode()


def build_source():
    v = q(SRC)
    put = lambda path, body: ok(RABBIT, "PUT", path, body)
    post = lambda path, body: ok(RABBIT, "POST", path, body)
    put(f"/vhosts/{v}", {"description": "definitions source", "tags": "defs,test"})
    for user, tags in [("defs-admin", "administrator"), ("defs-mon", "monitoring,management"),
                       ("defs-pol", "policymaker"), ("defs-app", "")]:
        put(f"/users/{user}", {"password": PASSWORDS[user], "tags": tags})
    put("/users/defs-nopw", {"password_hash": "", "tags": "management"})
    for user, algorithm in [("defs-sha512", "sha512"), ("defs-md5", "md5")]:
        put(f"/users/{user}", {"password_hash": hashed(algorithm, PASSWORDS[user]),
                               "hashing_algorithm": f"rabbit_password_hashing_{algorithm}",
                               "tags": ""})
    for user in ["defs-admin", "defs-mon", "defs-pol", "defs-nopw", "defs-sha512", "defs-md5"]:
        put(f"/permissions/{v}/{user}", {"configure": ".*", "write": ".*", "read": ".*"})
    put(f"/permissions/{v}/defs-app",
        {"configure": "^defs-app\\.", "write": "^(defs-x|amq\\.topic)$", "read": "^defs-"})
    put(f"/topic-permissions/{v}/defs-app",
        {"exchange": "amq.topic", "write": "^orders\\.", "read": ".*"})
    put(f"/vhost-limits/{v}/max-connections", {"value": 100})
    put(f"/vhost-limits/{v}/max-queues", {"value": 500})
    put("/user-limits/defs-app/max-connections", {"value": 10})
    put("/user-limits/defs-app/max-channels", {"value": 50})
    put(f"/policies/{v}/defs-ttl", {"pattern": "^defs-ttl\\.", "apply-to": "queues", "priority": 1,
                                     "definition": {"message-ttl": 60000,
                                                    "dead-letter-exchange": "defs-dlx"}})
    put(f"/policies/{v}/defs-ae", {"pattern": "^defs-pol-x$", "apply-to": "exchanges",
                                    "definition": {"alternate-exchange": "defs-ae"}})
    put(f"/operator-policies/{v}/defs-cap", {"pattern": ".*", "apply-to": "queues",
                                              "priority": 0, "definition": {"max-length": 100000}})
    for name, body in [
        ("defs-x", {"type": "direct", "arguments": {"alternate-exchange": "defs-ae"}}),
        ("defs-ae", {"type": "fanout"}), ("defs-dlx", {"type": "fanout"}),
        ("defs-internal", {"type": "topic", "internal": True}),
        ("defs-headers", {"type": "headers", "auto_delete": True}),
        ("defs-pol-x", {"type": "direct"}),
    ]:
        put(f"/exchanges/{v}/{name}", dict({"durable": True}, **body))
    for name, body in [
        ("defs-q1", {"arguments": {"x-message-ttl": 30000, "x-max-length": 1000,
                                   "x-dead-letter-exchange": "defs-dlx",
                                   "x-dead-letter-routing-key": "dead"}}),
        ("defs-quorum", {"arguments": {"x-queue-type": "quorum", "x-delivery-limit": 5}}),
        ("defs-classic", {"arguments": {"x-queue-type": "classic", "x-max-priority": 10}}),
        ("defs-ttl.orders", {}), ("defs-dead", {}), ("defs-srv-durable-named", {}),
        ("defs-transient", {"durable": False, "auto_delete": True}),
    ]:
        put(f"/queues/{v}/{name}", dict({"durable": True}, **body))
    for source, kind, dest, body in [
        ("defs-x", "q", "defs-q1", {"routing_key": "k1"}),
        ("defs-x", "q", "defs-quorum", {"routing_key": "k2", "arguments": {"x-note": "hi"}}),
        ("defs-x", "e", "defs-internal", {"routing_key": "to.internal"}),
        ("defs-internal", "q", "defs-classic", {"routing_key": "#"}),
        ("defs-headers", "q", "defs-classic",
         {"routing_key": "", "arguments": {"x-match": "any", "kind": "a", "n": 1}}),
        ("defs-dlx", "q", "defs-dead", {"routing_key": ""}),
        ("amq.topic", "q", "defs-q1", {"routing_key": "orders.#"}),
    ]:
        post(f"/bindings/{v}/e/{source}/{kind}/{dest}", body)


def only_src(doc, vhost):
    """The parts of a whole-broker export that belong to `vhost` and the defs-* users."""
    out = {}
    for key, value in doc.items():
        if not isinstance(value, list):
            out[key] = value
        elif key == "users":
            out[key] = [u for u in value if u["name"].startswith("defs-")]
        elif key == "vhosts":
            out[key] = [x for x in value if x["name"] == vhost]
        elif key == "global_parameters":
            out[key] = []
        else:
            out[key] = [x for x in value if x.get("vhost") == vhost]
    return out


def renamed(doc, old, new):
    text = json.dumps(doc)
    return json.loads(text.replace(f'"vhost": "{old}"', f'"vhost": "{new}"')
                      .replace(f'"name": "{old}"', f'"name": "{new}"'))


def same_topology(a, b, what):
    for key in ["parameters", "policies", "queues", "exchanges", "bindings"]:
        strip = lambda items: sorted(json.dumps({k: v for k, v in i.items() if k != "vhost"},
                                                sort_keys=True) for i in items)
        if strip(a.get(key, [])) != strip(b.get(key, [])):
            sys.exit(f"FAILED: {what}: {key} differ:\n{strip(a.get(key, []))}\n"
                     f"{strip(b.get(key, []))}")
    print(f"ok   {what}: parameters, policies, queues, exchanges, bindings equal")


def logins(port, vhost, where):
    for user, password in PASSWORDS.items():
        params = pika.ConnectionParameters("127.0.0.1", port, vhost,
                                           pika.PlainCredentials(user, password))
        pika.BlockingConnection(params).close()
    try:
        params = pika.ConnectionParameters("127.0.0.1", port, vhost,
                                           pika.PlainCredentials("defs-admin", "wrong"))
        pika.BlockingConnection(params).close()
        sys.exit(f"FAILED: {where}: a wrong password logged in")
    except pika.exceptions.AMQPError:
        pass
    print(f"ok   {where}: {len(PASSWORDS)} users log in over AMQP with their passwords")


def main():
    build_source()
    rabbit_all = only_src(ok(RABBIT, "GET", "/definitions"), SRC)
    rabbit_one = ok(RABBIT, "GET", f"/definitions/{q(SRC)}")
    if os.environ.get("FIXTURES") == "1":
        rabbit_all["global_parameters"] = [
            {"name": "internal_cluster_id", "value": "rabbitmq-cluster-id-defsfixture0000000000"}]
        for name, doc in [("broker", rabbit_all), ("vhost", rabbit_one)]:
            path = os.path.join(os.environ["FIXTURE_DIR"], f"rabbitmq-3.10.8-{name}.json")
            with open(path, "w") as f:
                json.dump(doc, f, indent=2)
        print("ok   fixtures written")

    # RabbitMQ -> Warren.
    ok(WARREN, "POST", "/definitions", rabbit_all)
    print("ok   RabbitMQ's export imported into Warren")
    logins(WARREN_AMQP, SRC, "Warren")
    warren_one = ok(WARREN, "GET", f"/definitions/{q(SRC)}")
    same_topology(rabbit_one, warren_one, "RabbitMQ defs-src vs Warren defs-src")
    before = ok(WARREN, "GET", "/definitions")
    ok(WARREN, "POST", "/definitions", rabbit_all)
    if ok(WARREN, "GET", "/definitions") != before:
        sys.exit("FAILED: a second import changed Warren's definitions")
    print("ok   importing again changes nothing")

    # Warren -> RabbitMQ.
    warren_all = renamed(only_src(ok(WARREN, "GET", "/definitions"), SRC), SRC, BACK)
    ok(RABBIT, "POST", "/definitions", warren_all)
    print("ok   Warren's export (vhost renamed defs-back) imported into RabbitMQ")
    logins(RABBIT_AMQP, BACK, "RabbitMQ")
    same_topology(warren_one, ok(RABBIT, "GET", f"/definitions/{q(BACK)}"),
                  "Warren defs-src vs RabbitMQ defs-back")
    ok(RABBIT, "PUT", f"/vhosts/{q(BACK2)}")
    ok(RABBIT, "POST", f"/definitions/{q(BACK2)}", warren_one)
    same_topology(warren_one, ok(RABBIT, "GET", f"/definitions/{q(BACK2)}"),
                  "Warren defs-src vs RabbitMQ defs-back2 (single-vhost import)")

    if os.environ.get("KEEP") != "1":
        for vhost in [SRC, BACK, BACK2]:
            call(RABBIT, "DELETE", f"/vhosts/{q(vhost)}")
        for user in list(PASSWORDS) + ["defs-nopw"]:
            call(RABBIT, "DELETE", f"/users/{user}")
    print("definitions round trip: all checks passed")


main()
