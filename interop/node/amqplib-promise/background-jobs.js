'use strict';
// amqplib, promise API: background jobs with a pool of worker processes, one of them killed
// mid-job (scenario B of the interop catalogue).
//
// A durable jobs queue and a durable results queue. Four worker processes
// (helpers/job-worker.js, started with child_process.fork, each its own connection,
// prefetch 10, manual acks) publish a result {job, worker, redelivered, digest} per job and
// then ack it. Worker 0 stalls after 300 jobs: it announces the job it holds on the results
// queue and never acks it; the scenario then kills it with SIGKILL. Meanwhile INTEROP_JOBS
// (default 10000) persistent jobs are published on a ConfirmChannel with at most 500
// confirms outstanding; every confirm must be an ack.
// Checks: every job has exactly one result (a second one only counts as a duplicate if
// it came from a delivery not flagged redelivered: then it fails) with the right digest;
// the job worker 0 was stuck on was done by another worker with redelivered=true; worker 0
// did exactly 300 jobs and nothing after stalling; after the other workers have closed
// their channels (so every ack is in), both queues are empty.
const assert = require('node:assert/strict');
const path = require('node:path');
const { fork } = require('node:child_process');
const { once } = require('node:events');
const amqplib = require('amqplib');
const { amqpUri, unique, Monitor, withTimeout, sha256, deleteAll, run } = require('interop-common');

const JOBS = Number(process.env.INTEROP_JOBS || 10000);
const WORKERS = 4;
const STALL_AFTER = 300;
const WINDOW = 500;
const JOBS_Q = unique('jobs');
const RESULTS_Q = unique('job-results');
const HELPER = path.join(__dirname, 'helpers', 'job-worker.js');

const payload = (i) => `job-${i}-${'x'.repeat(i % 100)}`;
const procs = [];
let stopping = false;

const running = (p) => p.exitCode === null && p.signalCode === null;

function killWorkers() {
  stopping = true;
  for (const p of procs) if (running(p)) p.kill('SIGKILL');
}

// Asks the live workers to close their channels and connections (their acks are processed
// by then) and waits, bounded, for each to exit 0.
async function stopWorkers() {
  stopping = true;
  const live = procs.filter(running);
  const exits = live.map((p) => once(p, 'exit'));
  for (const p of live) p.send({ stop: true });
  const codes = await withTimeout('the workers to stop', 15000, Promise.all(exits));
  assert.deepEqual(codes.map(([code]) => code), live.map(() => 0), 'worker exit codes');
}

// Starts the worker processes and waits (bounded) until each has its consumer registered.
async function startWorkers(monitor) {
  const ready = new Set();
  for (let w = 0; w < WORKERS; w++) {
    const args = [JOBS_Q, RESULTS_Q, String(w)];
    if (w === 0) args.push(String(STALL_AFTER));
    const p = fork(HELPER, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    p.on('message', monitor.guard((m) => { if (m && m.ready === w) ready.add(w); }));
    p.on('exit', monitor.guard((code, signal) => {
      if (!stopping && !(w === 0 && signal === 'SIGKILL')) throw new Error(`worker ${w} exited (${code}, ${signal})`);
    }));
    procs.push(p);
  }
  await monitor.until('every worker to be consuming', 20000, () => ready.size === WORKERS);
}

// Publishes every job persistent, with at most WINDOW confirms outstanding.
async function publishJobs(conn, monitor) {
  const ch = await conn.createConfirmChannel();
  const state = { inFlight: 0, acked: 0, nacked: [] };
  for (let i = 0; i < JOBS; i++) {
    if (state.inFlight >= WINDOW) {
      await monitor.until('a confirm to free the window', 30000, () => state.inFlight < WINDOW);
    }
    state.inFlight += 1;
    const body = Buffer.from(JSON.stringify({ id: i, payload: payload(i) }));
    const writable = ch.sendToQueue(JOBS_Q, body, { persistent: true }, monitor.guard((err) => {
      state.inFlight -= 1;
      if (err) state.nacked.push(i);
      else state.acked += 1;
    }));
    if (!writable) await withTimeout('the channel to drain', 30000, once(ch, 'drain'));
  }
  await withTimeout('the last confirms', 30000, ch.waitForConfirms());
  await ch.close();
  return state;
}

run(async () => {
  const conn = await amqplib.connect(amqpUri());
  const ch = await conn.createChannel();
  await ch.assertQueue(JOBS_Q, { durable: true });
  await ch.assertQueue(RESULTS_Q, { durable: true });

  const monitor = new Monitor();
  try {
    await startWorkers(monitor);

    const results = new Map();
    const duplicates = [];
    const byWorker = new Array(WORKERS).fill(0);
    const afterStall = [];
    let stalled = null;
    let killed = null;
    await ch.prefetch(200);
    const { consumerTag } = await ch.consume(RESULTS_Q, monitor.guard((msg) => {
      assert.ok(msg, 'results: consumer cancelled by the broker');
      const r = JSON.parse(msg.content.toString());
      ch.ack(msg);
      if ('stalled' in r) {
        assert.equal(r.worker, 0, 'the worker that stalled');
        assert.equal(stalled, null, 'only one stall notice');
        stalled = r.stalled;
        procs[0].kill('SIGKILL');
        killed = withTimeout('worker 0 to die', 10000, once(procs[0], 'exit'));
        return;
      }
      if (r.worker === 0 && stalled !== null) afterStall.push(r.job);
      assert.equal(r.digest, sha256(Buffer.from(payload(r.job))), `digest of job ${r.job}`);
      if (results.has(r.job)) {
        duplicates.push(r);
        return;
      }
      results.set(r.job, r);
      byWorker[r.worker] += 1;
    }));

    // The publisher has its own connection; publishing overlaps with the workers.
    const pubConn = await amqplib.connect(amqpUri());
    const published = await publishJobs(pubConn, monitor);
    await pubConn.close();
    assert.deepEqual(published.nacked, [], 'jobs nacked by the broker');
    assert.equal(published.acked, JOBS, 'jobs confirmed by the broker');

    await monitor.until(`a result for every job (${JOBS})`, 60000, () => results.size >= JOBS);
    assert.ok(killed, 'worker 0 never stalled');
    const [, signal] = await killed;
    assert.equal(signal, 'SIGKILL', 'worker 0 ended by SIGKILL');
    await ch.cancel(consumerTag);

    console.log(`jobs per worker: ${byWorker.join(', ')}; stalled job ${stalled}`);
    assert.equal(results.size, JOBS, 'jobs with a result');
    for (let i = 0; i < JOBS; i++) assert.ok(results.has(i), `result for job ${i}`);
    const badDuplicates = duplicates.filter((d) => !d.redelivered);
    assert.deepEqual(badDuplicates, [], 'jobs done twice without a redelivery');
    assert.equal(byWorker[0], STALL_AFTER, 'jobs done by worker 0 before it was killed');
    assert.deepEqual(afterStall, [], 'results from worker 0 after it stalled');
    const stuck = results.get(stalled);
    assert.notEqual(stuck.worker, 0, 'the stalled job was finished by another worker');
    assert.equal(stuck.redelivered, true, 'redelivered flag on the stalled job');

    await stopWorkers();
    for (const queue of [JOBS_Q, RESULTS_Q]) {
      const { messageCount } = await ch.checkQueue(queue);
      assert.equal(messageCount, 0, `messages left in ${queue}`);
    }
  } finally {
    killWorkers();
  }
  await ch.deleteQueue(JOBS_Q);
  await ch.deleteQueue(RESULTS_Q);
  await ch.close();
  await conn.close();
}, 100000, () => {
  killWorkers();
  return deleteAll({ queues: [JOBS_Q, RESULTS_Q] });
});
