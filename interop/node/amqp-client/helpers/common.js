'use strict';
// Shared by the @cloudamqp/amqp-client scenarios in this folder (not a scenario itself):
// connecting with URI query options, bounded waits on a condition that callbacks make
// true, and small AMQP conveniences (queue depth, closing quietly on the failure path).

const { AMQPClient } = require('@cloudamqp/amqp-client');
const { amqpUri } = require('interop-common');

/**
 * Connects to $AMQP_URI. `options` become URI query parameters, which is how
 * amqp-client takes connection settings (e.g. { heartbeat: 1, name: 'x' }).
 *
 * `noDelay: true` turns off Nagle's algorithm on the client's socket (amqp-client leaves
 * it on). A consumer that publishes and then acks for every delivery otherwise sends the
 * ack behind a segment the broker acknowledges only after its delayed-ACK timer (~40 ms),
 * once per prefetch window: about 230 deliveries/s per consumer against RabbitMQ and
 * Warren alike, instead of over 10,000/s.
 */
async function connect(options = {}, { noDelay = false } = {}) {
  const url = new URL(amqpUri());
  for (const [k, v] of Object.entries(options)) url.searchParams.set(k, String(v));
  const conn = await new AMQPClient(url.toString()).connect();
  if (noDelay) conn.socket.setNoDelay(true);
  return conn;
}

/**
 * A condition that event handlers make true: handlers call `progress.notify()` after
 * changing state, and `progress.until(what, ms, cond)` resolves once `cond()` holds
 * (checked at once and on every notify), or rejects after `ms` milliseconds.
 * `progress.fail(err)` rejects every current and future wait (an assertion failed
 * inside a callback).
 */
class Progress {
  constructor() {
    this.waiters = new Set();
    this.error = null;
  }

  notify() {
    for (const w of [...this.waiters]) {
      let done;
      try {
        done = w.cond();
      } catch (err) {
        this.fail(err);
        return;
      }
      if (done) {
        this.waiters.delete(w);
        clearTimeout(w.timer);
        w.resolve();
      }
    }
  }

  fail(err) {
    if (!this.error) this.error = err;
    for (const w of [...this.waiters]) {
      this.waiters.delete(w);
      clearTimeout(w.timer);
      w.reject(this.error);
    }
  }

  until(what, ms, cond) {
    if (this.error) return Promise.reject(this.error);
    if (cond()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const w = { cond, resolve, reject };
      w.timer = setTimeout(() => {
        this.waiters.delete(w);
        reject(new Error(`timed out after ${ms}ms waiting for ${what}`));
      }, ms);
      this.waiters.add(w);
    });
  }

  /** Wraps a callback so an exception in it fails the waits instead of vanishing. */
  guard(fn) {
    return async (...args) => {
      try {
        await fn(...args);
      } catch (err) {
        this.fail(err);
      } finally {
        this.notify();
      }
    };
  }
}

/** A promise that rejects after `ms` unless `promise` settles first. */
function within(what, ms, promise) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms}ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Messages ready in `queue` (a passive queue.declare). */
async function depth(ch, queue) {
  return (await ch.queueDeclare(queue, { passive: true })).messageCount;
}

/** Closes connections, ignoring errors (for the failure path). */
async function closeQuietly(...conns) {
  for (const c of conns) {
    if (c && !c.closed) {
      try {
        await within('connection close', 5000, c.close());
      } catch {
        // best effort
      }
    }
  }
}

/**
 * Best-effort deletion of what a failed scenario declared, on a fresh connection; never
 * throws (the scenario's own error is what gets reported).
 */
async function dropAll({ queues = [], exchanges = [] }) {
  let conn;
  try {
    conn = await within('cleanup connection', 5000, connect());
    for (const [kind, names] of [['queue', queues], ['exchange', exchanges]]) {
      for (const name of names) {
        try {
          const ch = await conn.channel();
          await within(`${kind} delete`, 5000,
            kind === 'queue' ? ch.queueDelete(name) : ch.exchangeDelete(name));
          await ch.close();
        } catch {
          // best effort
        }
      }
    }
  } catch {
    // best effort
  } finally {
    await closeQuietly(conn);
  }
}

module.exports = { connect, Progress, within, depth, closeQuietly, dropAll };
