'use strict';
// Small helpers shared by the Node.js interop scenarios: the broker address from $AMQP_URI,
// unique names (so reruns never collide with leftovers), a runner that exits 0 on success
// and 1 with a message on failure, with a hang guard, and bounded waits on state that event
// callbacks update (Monitor, withTimeout).

const crypto = require('node:crypto');

const DEFAULT_URI = 'amqp://guest:guest@127.0.0.1:5672/%2F';

/** The broker under test. */
function amqpUri() {
  return process.env.AMQP_URI || DEFAULT_URI;
}

/** The user name in $AMQP_URI. */
function uriUser() {
  return decodeURIComponent(new URL(amqpUri()).username || 'guest');
}

/** A name no earlier run has used: interop.<prefix>.<random>. */
function unique(prefix) {
  return `interop.${prefix}.${crypto.randomBytes(6).toString('hex')}`;
}

/** Resolves with the first value `emit` is called with; rejects after `ms`. */
function waitFor(what, ms, register) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms}ms waiting for ${what}`)), ms);
    register((value) => {
      clearTimeout(timer);
      resolve(value);
    }, (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/** Resolves or rejects like `promise`, but rejects after `ms` if it has not settled by then. */
function withTimeout(what, ms, promise) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms}ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Bounded waits on state that event callbacks (consumers, confirms, returns) update.
 *
 * Wrap each callback with `guard(fn)`: after it runs, every pending `until` re-checks its
 * test; if it throws (or its promise rejects), every pending and later `until` rejects with
 * that error, so a failed assertion inside a callback fails the scenario at once.
 * `until(what, ms, test)` resolves as soon as `test()` is true, and rejects after `ms`.
 */
class Monitor {
  constructor() {
    this.error = null;
    this.waiters = new Set();
  }

  /** Re-checks the pending waits (call after changing state outside a guarded callback). */
  poke() {
    for (const w of [...this.waiters]) w.check();
  }

  /** Fails every pending and later wait with `err` (the first failure wins). */
  fail(err) {
    if (!this.error) this.error = err instanceof Error ? err : new Error(String(err));
    for (const w of [...this.waiters]) w.reject(this.error);
  }

  /** `fn` wrapped: failures go to fail(), and waits are re-checked after each call. */
  guard(fn) {
    return (...args) => {
      try {
        const r = fn(...args);
        if (r && typeof r.then === 'function') {
          return r.then(() => this.poke(), (err) => this.fail(err));
        }
        this.poke();
        return r;
      } catch (err) {
        this.fail(err);
        return undefined;
      }
    };
  }

  /** Resolves once `test()` holds; rejects on a callback failure or after `ms`. */
  until(what, ms, test) {
    return new Promise((resolve, reject) => {
      const w = {};
      const done = () => {
        clearTimeout(w.timer);
        this.waiters.delete(w);
      };
      w.reject = (err) => {
        done();
        reject(err);
      };
      w.check = () => {
        let ok;
        try {
          ok = test();
        } catch (err) {
          w.reject(err);
          return;
        }
        if (ok) {
          done();
          resolve();
        }
      };
      if (this.error) return reject(this.error);
      w.timer = setTimeout(() => w.reject(new Error(`timed out after ${ms}ms waiting for ${what}`)), ms);
      this.waiters.add(w);
      w.check();
    });
  }
}

/** The SHA-256 of a buffer, hex. */
function sha256(buf) {
  return crypto.createHash('sha256').update(buf).digest('hex');
}

/**
 * Best-effort clean-up for failure paths: deletes the named queues and exchanges over a
 * fresh amqplib connection (each on its own channel, errors ignored), within `ms`.
 */
async function deleteAll({ queues = [], exchanges = [] }, ms = 10000) {
  const amqplib = require('amqplib');
  let conn;
  const work = (async () => {
    conn = await amqplib.connect(amqpUri());
    conn.on('error', () => {});
    const each = async (fn) => {
      try {
        const ch = await conn.createChannel();
        ch.on('error', () => {});
        await fn(ch);
        await ch.close();
      } catch (_) {
        // already gone, or the broker refused: nothing more to do
      }
    };
    for (const q of queues) await each((ch) => ch.deleteQueue(q));
    for (const x of exchanges) await each((ch) => ch.deleteExchange(x));
    await conn.close();
  })();
  try {
    await withTimeout('clean-up', ms, work);
  } catch (_) {
    if (conn && conn.connection && conn.connection.stream) conn.connection.stream.destroy();
  }
}

/**
 * Runs an async scenario with a hang guard; exits 0 on success, 1 on failure. The optional
 * `onFailure` (async, e.g. a deleteAll of what the scenario declared) runs before exiting
 * with 1, bounded by 15 s.
 */
function run(scenario, limitMs = 60000, onFailure = null) {
  let failing = false;
  const failWith = (...msg) => {
    if (failing) return;
    failing = true;
    console.error(...msg);
    if (!onFailure) process.exit(1);
    withTimeout('clean-up after failure', 15000, Promise.resolve().then(onFailure))
      .catch((err) => console.error('clean-up failed:', err && err.message ? err.message : err))
      .finally(() => process.exit(1));
  };
  const guard = setTimeout(() => failWith(`FAILED: scenario still running after ${limitMs}ms`), limitMs);
  Promise.resolve()
    .then(scenario)
    .then(() => {
      clearTimeout(guard);
      if (failing) return;
      console.log('ok');
      process.exit(0);
    })
    .catch((err) => {
      clearTimeout(guard);
      failWith('FAILED:', err && err.stack ? err.stack : err);
    });
}

module.exports = { amqpUri, uriUser, unique, waitFor, withTimeout, Monitor, sha256, deleteAll, run };
