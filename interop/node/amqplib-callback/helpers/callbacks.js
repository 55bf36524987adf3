'use strict';
// Callback-style plumbing shared by the amqplib callback-API scenarios (not a scenario).
//
// scenario(body) turns a callback-style scenario into the promise interop-common's run()
// expects. body({ ok, guard, fail, done, within, owned }) gets:
//   ok(fn)       a Node-style callback (err, value): err fails the scenario, else fn(value);
//   guard(fn)    wraps an event handler (consumer, 'return', ...) so a thrown assertion
//                fails the scenario instead of escaping into amqplib's frame handling;
//   fail(err)    fails once: deletes what `owned` lists (best effort, bounded), then exits 1;
//   done()       succeeds;
//   within(ms, what)  a deadline: fails with "timed out ... waiting for <what>" unless its
//                clear() is called first;
//   owned        { queues: [], exchanges: [] }: push names here as they are declared, so a
//                failure still deletes them (the success path deletes them itself).
// publishConfirmed() publishes many messages on a ConfirmChannel with a bounded window of
// unconfirmed messages, honouring the channel's 'drain' back-pressure.
const amqplib = require('amqplib/callback_api');
const { amqpUri } = require('interop-common');

/** Best-effort deletion of queues and exchanges on a fresh connection; cb() within ~5 s. */
function deleteAll(owned, cb) {
  let called = false;
  const finish = () => {
    if (called) return;
    called = true;
    clearTimeout(timer);
    cb();
  };
  const timer = setTimeout(finish, 5000);
  const names = [...owned.queues.map((q) => ['queue', q]), ...owned.exchanges.map((e) => ['exchange', e])];
  if (names.length === 0) return finish();
  amqplib.connect(amqpUri(), (err, conn) => {
    if (err) return finish();
    conn.on('error', () => {});
    let left = names.length;
    const next = () => {
      if (--left === 0) conn.close(() => finish());
    };
    // One channel per deletion: a failing delete closes only its own channel.
    for (const [kind, name] of names) {
      conn.createChannel((err, ch) => {
        if (err) return next();
        ch.on('error', () => {});
        if (kind === 'queue') ch.deleteQueue(name, {}, () => next());
        else ch.deleteExchange(name, {}, () => next());
      });
    }
  });
}

function scenario(body) {
  return () => new Promise((resolve, reject) => {
    const owned = { queues: [], exchanges: [] };
    let finished = false;
    const fail = (err) => {
      if (finished) return;
      finished = true;
      deleteAll(owned, () => reject(err));
    };
    const done = () => {
      if (finished) return;
      finished = true;
      resolve();
    };
    const ok = (fn) => (err, value) => {
      if (finished) return;
      if (err) return fail(err);
      try {
        if (fn) fn(value);
      } catch (e) {
        fail(e);
      }
    };
    const guard = (fn) => (...args) => {
      if (finished) return undefined;
      try {
        return fn(...args);
      } catch (e) {
        fail(e);
        return undefined;
      }
    };
    const within = (ms, what) => {
      const timer = setTimeout(() => fail(new Error(`timed out after ${ms}ms waiting for ${what}`)), ms);
      return { clear: () => clearTimeout(timer) };
    };
    try {
      body({ ok, guard, fail, done, within, owned });
    } catch (e) {
      fail(e);
    }
  });
}

/**
 * Publishes `count` messages on a ConfirmChannel: send(i, confirmCb) must publish message i
 * with confirmCb as its confirm callback and return publish()'s result. At most `window`
 * messages are unconfirmed at a time, and publishing pauses while the channel's buffer is
 * full (publish returned false) until 'drain'. cb(err) once all are confirmed, or with the
 * first error (a nack, or the channel closing).
 */
function publishConfirmed(ch, count, window, send, cb) {
  let next = 0;
  let confirmed = 0;
  let blocked = false;
  let finished = false;
  const finish = (err) => {
    if (finished) return;
    finished = true;
    ch.removeListener('drain', onDrain);
    cb(err || null);
  };
  const pump = () => {
    while (!finished && !blocked && next < count && next - confirmed < window) {
      const i = next++;
      if (!send(i, onConfirm)) blocked = true;
    }
  };
  function onConfirm(err) {
    if (err) return finish(err);
    confirmed += 1;
    if (confirmed === count) return finish(null);
    return pump();
  }
  function onDrain() {
    blocked = false;
    pump();
  }
  ch.on('drain', onDrain);
  if (count === 0) return finish(null);
  return pump();
}

module.exports = { scenario, publishConfirmed, deleteAll };
