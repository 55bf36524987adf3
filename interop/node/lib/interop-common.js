'use strict';
// Small helpers shared by the Node.js interop scenarios: the broker address from $AMQP_URI,
// unique names (so reruns never collide with leftovers), and a runner that exits 0 on success
// and 1 with a message on failure, with a hang guard.

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

/** Runs an async scenario with a hang guard; exits 0 on success, 1 on failure. */
function run(scenario, limitMs = 60000) {
  const guard = setTimeout(() => {
    console.error(`FAILED: scenario still running after ${limitMs}ms`);
    process.exit(1);
  }, limitMs);
  Promise.resolve()
    .then(scenario)
    .then(() => {
      clearTimeout(guard);
      console.log('ok');
      process.exit(0);
    })
    .catch((err) => {
      clearTimeout(guard);
      console.error('FAILED:', err && err.stack ? err.stack : err);
      process.exit(1);
    });
}

module.exports = { amqpUri, uriUser, unique, waitFor, run };
