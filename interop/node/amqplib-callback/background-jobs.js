'use strict';
// amqplib, callback API: background jobs with a pool of worker processes, one SIGKILLed
// mid-job.
//
// A durable jobs queue and a durable results queue. Four workers are separate Node
// processes (helpers/job-worker.js via child_process.fork, each its own connection, prefetch
// 10, manual acks); each computes the SHA-256 of a job's payload, publishes a result
// {job, worker, redelivered, digest} to the results queue, then acks. Once all four are
// consuming, INTEROP_JOBS (default 10,000) persistent jobs are published on a ConfirmChannel
// with at most 500 unconfirmed; every confirm must be an ack. Worker 0 stalls mid-job after
// 300 jobs and reports the job it is stuck on over IPC; the scenario then kills it with
// SIGKILL, so its unacked jobs go back to the queue.
// Checks: every job has exactly one result with the right digest (a second result is only
// accepted for a redelivered job); the job worker 0 was stuck on was done by another worker
// with redelivered=true; worker 0 produced exactly its 300 results and nothing after
// stalling; both queues end empty; everything is deleted.
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const path = require('node:path');
const { fork } = require('node:child_process');
const amqplib = require('amqplib/callback_api');
const { amqpUri, unique, run } = require('interop-common');
const { scenario, publishConfirmed } = require('./helpers/callbacks');

const JOBS = parseInt(process.env.INTEROP_JOBS || '10000', 10);
const WORKERS = 4;
const STALL_AFTER = Math.min(300, Math.floor(JOBS / 8));
const WINDOW = 500;
const WORKER_SCRIPT = path.join(__dirname, 'helpers', 'job-worker.js');

const payload = (i) => `job-${i}-${'x'.repeat(i % 100)}`;
const digest = (s) => crypto.createHash('sha256').update(s).digest('hex');

const children = [];
// Whatever happens, no worker outlives the scenario.
process.on('exit', () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

run(scenario(({ ok, guard, fail, done, within, owned }) => {
  const jobsQueue = unique('amqplib-cb-jobs');
  const resultsQueue = unique('amqplib-cb-job-results');
  const results = new Map(); // job id -> result
  const duplicates = [];
  const byWorker = new Array(WORKERS).fill(0);
  let stalled = null;
  let worker0Exit = null;
  let allConfirmed = false;

  amqplib.connect(amqpUri(), ok((conn) => {
    conn.on('error', fail);
    conn.createChannel(ok((ch) => {
      ch.on('error', fail);
      owned.queues.push(jobsQueue, resultsQueue);
      ch.assertQueue(jobsQueue, { durable: true });
      ch.assertQueue(resultsQueue, { durable: true }, ok(() => startWorkers(conn, ch)));
    }));
  }));

  function startWorkers(conn, ch) {
    const deadline = within(30000, 'all workers to start consuming');
    let ready = 0;
    for (let w = 0; w < WORKERS; w++) {
      const args = [jobsQueue, resultsQueue, String(w)];
      if (w === 0) args.push(String(STALL_AFTER));
      const child = fork(WORKER_SCRIPT, args);
      children.push(child);
      child.on('exit', guard((code, signal) => {
        if (w === 0 && signal === 'SIGKILL') {
          worker0Exit = signal;
          return;
        }
        if (!child.stopping) fail(new Error(`worker ${w} exited early (code ${code}, signal ${signal})`));
      }));
      child.on('message', guard((msg) => {
        if (msg.ready !== undefined) {
          if (++ready === WORKERS) {
            deadline.clear();
            consumeResults(conn, ch);
          }
        } else if (msg.stalled !== undefined) {
          assert.equal(msg.worker, 0, 'the worker that stalled');
          assert.equal(stalled, null, 'worker 0 stalled twice');
          stalled = msg.stalled;
          child.kill('SIGKILL');
        }
      }));
    }
  }

  function consumeResults(conn, ch) {
    const deadline = within(90000, `results for all ${JOBS} jobs`);
    const started = Date.now();
    let consumerTag = null;
    ch.prefetch(200);
    ch.consume(resultsQueue, guard((msg) => {
      assert.ok(msg, 'results consumer cancelled by the broker');
      const r = JSON.parse(msg.content.toString());
      ch.ack(msg);
      if (results.has(r.job)) {
        duplicates.push(r);
        return;
      }
      results.set(r.job, r);
      byWorker[r.worker] += 1;
      if (results.size < JOBS || !allConfirmed) return;
      finish();
    }), { noAck: false }, ok((consumeOk) => {
      consumerTag = consumeOk.consumerTag;
      publishJobs(conn);
    }));

    function publishJobs() {
      conn.createConfirmChannel(ok((pub) => {
        pub.on('error', fail);
        publishConfirmed(pub, JOBS, WINDOW, (i, confirmCb) => pub.sendToQueue(jobsQueue,
          Buffer.from(JSON.stringify({ id: i, payload: payload(i) })), { persistent: true }, confirmCb),
        ok(() => {
          allConfirmed = true;
          pub.close(ok(() => {
            if (results.size === JOBS) finish();
          }));
        }));
      }));
    }

    let finishing = false;
    function finish() {
      if (finishing) return;
      finishing = true;
      deadline.clear();
      console.log(`${JOBS} jobs done in ${Date.now() - started} ms; per worker ${byWorker.join('/')}; `
        + `stalled job ${stalled}; ${duplicates.length} duplicate result(s) of redelivered jobs`);
      assert.notEqual(stalled, null, `worker 0 never stalled (it did ${byWorker[0]} jobs)`);
      assert.equal(worker0Exit, 'SIGKILL', 'worker 0 was killed');
      assert.equal(results.size, JOBS, 'jobs with a result');
      for (let i = 0; i < JOBS; i++) {
        const r = results.get(i);
        assert.ok(r, `no result for job ${i}`);
        if (r.digest !== digest(payload(i))) throw new Error(`wrong digest for job ${i}`);
      }
      for (const d of duplicates) {
        assert.equal(d.redelivered, true, `a second result for job ${d.job} from a delivery not flagged redelivered`);
      }
      assert.equal(byWorker[0], STALL_AFTER, 'results from worker 0 (all before it stalled)');
      assert.ok(duplicates.every((d) => d.worker !== 0), 'worker 0 produced a result after stalling');
      const s = results.get(stalled);
      assert.notEqual(s.worker, 0, 'the stalled job was finished by another worker');
      assert.equal(s.redelivered, true, 'redelivered flag on the stalled job');
      ch.cancel(consumerTag, ok(() => stopWorkers(conn, ch)));
    }
  }

  function stopWorkers(conn, ch) {
    const live = children.slice(1);
    const deadline = within(15000, 'the workers to stop');
    let left = live.length;
    for (const child of live) {
      child.stopping = true;
      child.once('exit', guard((code) => {
        assert.equal(code, 0, 'worker exit status');
        if (--left > 0) return;
        deadline.clear();
        cleanUp(conn, ch);
      }));
      child.send({ stop: true });
    }
  }

  function cleanUp(conn, ch) {
    ch.checkQueue(jobsQueue, ok((jobs) => {
      ch.checkQueue(resultsQueue, ok((res) => {
        assert.deepEqual([jobs.messageCount, res.messageCount], [0, 0], 'messages left in jobs/results');
        ch.deleteQueue(jobsQueue, {});
        ch.deleteQueue(resultsQueue, {}, ok(() => conn.close(ok(done))));
      }));
    }));
  }
}), 110000);
