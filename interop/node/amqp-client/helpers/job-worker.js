'use strict';
// A background-job worker process for background-jobs.js (not a scenario itself), started
// with child_process.fork:
//
//   job-worker.js JOBS_QUEUE RESULTS_QUEUE WORKER_ID [STALL_AFTER]
//
// Its own connection, prefetch 10, manual acks. For each job it computes the SHA-256 of
// the payload, publishes a result {job, worker, redelivered, digest} to RESULTS_QUEUE,
// then acks the job. It tells its parent over the IPC channel when it is consuming
// ({ready}). With STALL_AFTER=n, after n jobs it reports the next job it holds
// ({stalled: id}) and from then on does nothing at all (never acks, publishes nothing),
// holding its prefetched jobs unacked until it is killed. A {stop} message from the
// parent closes the connection and exits.
const crypto = require('node:crypto');
const { connect } = require('./common');

const [jobsQueue, resultsQueue, workerArg, stallArg] = process.argv.slice(2);
const worker = Number(workerArg);
const stallAfter = stallArg === undefined ? null : Number(stallArg);

async function main() {
  // Nagle off: see connect() in common.js (publish + ack per delivery).
  const conn = await connect({ name: `job-worker-${worker}` }, { noDelay: true });
  const ch = await conn.channel();
  await ch.prefetch(10);
  let started = 0;
  let stalled = false;
  await ch.basicConsume(jobsQueue, { noAck: false }, async (msg) => {
    if (stalled) return; // hung: holds this delivery unacked until killed
    const job = JSON.parse(msg.bodyToString());
    if (stallAfter !== null && started === stallAfter) {
      stalled = true;
      process.send({ stalled: job.id, worker });
      return;
    }
    started += 1;
    const digest = crypto.createHash('sha256').update(job.payload).digest('hex');
    const result = { job: job.id, worker, redelivered: msg.redelivered, digest };
    await ch.basicPublish('', resultsQueue, JSON.stringify(result), { deliveryMode: 2 });
    await msg.ack();
  });
  process.on('message', async (m) => {
    if (m && m.stop) {
      await conn.close();
      process.exit(0);
    }
  });
  process.on('disconnect', () => process.exit(1)); // the scenario is gone
  process.send({ ready: true, worker });
}

main().catch((err) => {
  console.error(`job-worker ${worker}:`, err && err.stack ? err.stack : err);
  process.exit(1);
});
