'use strict';
// @cloudamqp/amqp-client: background jobs, a pool of worker processes, one killed mid-job.
//
// A durable jobs queue and a durable results queue. Four worker processes
// (helpers/job-worker.js via child_process.fork; each its own connection, prefetch 10,
// manual acks) publish a result {job, worker, redelivered, sha256} for each job, then ack
// it. Worker 0 stalls after 300 jobs, holding the job it has just received (and the rest
// of its prefetch) unacked, and reports that job over IPC; the scenario then kills it
// with SIGKILL, so the broker sees the connection drop without a close handshake.
// Meanwhile INTEROP_JOBS (default 10,000) persistent jobs are published with publisher
// confirms, 500 in flight at a time; every publish promise must resolve (none nacked).
// Checks: every job has exactly one result with the right digest (a second result is
// tolerated only if it is flagged redelivered and the first came from worker 0); the job
// worker 0 was stuck on was done by another worker with redelivered=true; worker 0
// produced exactly 300 results and nothing after stalling; the queues end empty.
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const path = require('node:path');
const { fork } = require('node:child_process');
const { unique, run } = require('interop-common');
const { connect, Progress, within, depth, closeQuietly, dropAll } = require('./helpers/common');

const JOBS = Number(process.env.INTEROP_JOBS || 10000);
const WORKERS = 4;
const STALL_AFTER = 300;
const WINDOW = 500;
const HELPER = path.join(__dirname, 'helpers', 'job-worker.js');

const payload = (i) => `job-${i}-` + 'x'.repeat(i % 100);
const sha256 = (s) => crypto.createHash('sha256').update(s).digest('hex');

/** Resolves when the child process has exited (at once if it already has). */
function exited(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

run(async () => {
  const jobsQ = unique('amqp-client-jobs');
  const resultsQ = unique('amqp-client-job-results');
  const conns = [];
  const workers = [];
  try {
    const main = await connect({ name: 'jobs-main' });
    conns.push(main);
    const ch = await main.channel();
    await ch.queueDeclare(jobsQ, { durable: true });
    await ch.queueDeclare(resultsQ, { durable: true });

    const progress = new Progress();
    const ready = new Set();
    let stalled = null;
    for (let w = 0; w < WORKERS; w++) {
      const args = [jobsQ, resultsQ, String(w)];
      if (w === 0) args.push(String(STALL_AFTER));
      const child = fork(HELPER, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      child.on('message', (m) => {
        if (m.ready) ready.add(m.worker);
        if (m.stalled !== undefined) {
          try {
            assert.equal(m.worker, 0, 'the worker that stalled');
          } catch (err) {
            progress.fail(err);
          }
          stalled = m.stalled;
          child.kill('SIGKILL');
        }
        progress.notify();
      });
      child.on('exit', (code, signal) => {
        if (!(w === 0 && signal === 'SIGKILL') && !child.stopping) {
          progress.fail(new Error(`worker ${w} exited early (code ${code}, signal ${signal})`));
        }
        progress.notify();
      });
      workers.push(child);
    }
    await progress.until('the workers to start consuming', 20000, () => ready.size === WORKERS);

    // Results, consumed as they come.
    const results = new Map();
    const duplicates = [];
    const byWorker = Array(WORKERS).fill(0);
    const rch = await main.channel();
    await rch.prefetch(500);
    const rconsumer = await rch.basicConsume(resultsQ, { noAck: false }, progress.guard(async (msg) => {
      const r = JSON.parse(msg.bodyToString());
      byWorker[r.worker] += 1;
      if (results.has(r.job)) duplicates.push(r);
      else results.set(r.job, r);
      await msg.ack();
    }));

    // The producer: its own connection, confirms, WINDOW publishes in flight at a time.
    const producer = await connect({ name: 'jobs-producer' });
    conns.push(producer);
    const pch = await producer.channel();
    await pch.confirmSelect();
    let confirmed = 0;
    for (let start = 0; start < JOBS; start += WINDOW) {
      const batch = [];
      for (let i = start; i < Math.min(start + WINDOW, JOBS); i++) {
        batch.push(pch.basicPublish('', jobsQ, JSON.stringify({ id: i, payload: payload(i) }),
          { deliveryMode: 2 }));
      }
      confirmed += (await within('publisher confirms', 30000, Promise.all(batch))).length;
    }
    assert.equal(confirmed, JOBS, 'jobs confirmed by the broker');
    await producer.close();

    await progress.until('a result for every job', 60000, () => results.size >= JOBS);
    await within('worker 0 to die', 10000, exited(workers[0]));
    await rconsumer.cancel();

    assert.notEqual(stalled, null, `worker 0 never stalled (it did ${byWorker[0]} jobs)`);
    assert.equal(results.size, JOBS, 'jobs with a result');
    for (const d of duplicates) {
      const first = results.get(d.job);
      assert.ok(d.redelivered && first.worker === 0,
        `job ${d.job} done twice: ${JSON.stringify(first)} and ${JSON.stringify(d)}`);
    }
    assert.equal(byWorker[0], STALL_AFTER, 'results published by worker 0');
    for (const [i, r] of results) {
      if (r.digest !== sha256(payload(i))) throw new Error(`wrong digest for job ${i}`);
    }
    const s = results.get(stalled);
    assert.notEqual(s.worker, 0, 'the stalled job was finished by another worker');
    assert.equal(s.redelivered, true, 'redelivered flag on the stalled job');
    console.log(`jobs per worker: ${byWorker.join(', ')}; stalled job ${stalled}; ${duplicates.length} duplicates`);

    for (const child of workers.slice(1)) {
      child.stopping = true;
      child.send({ stop: true });
    }
    await within('the workers to stop', 10000, Promise.all(workers.map(exited)));
    for (const queue of [jobsQ, resultsQ]) {
      assert.equal(await depth(ch, queue), 0, `messages left in ${queue}`);
      await ch.queueDelete(queue);
    }
    await main.close();
  } catch (err) {
    for (const child of workers) {
      child.stopping = true;
      child.kill('SIGKILL');
    }
    await closeQuietly(...conns);
    await dropAll({ queues: [jobsQ, resultsQ] });
    throw err;
  }
});
