'use strict';
// A background-job worker process for background-jobs.js (not a scenario itself).
//
// usage: node job-worker.js JOBS_QUEUE RESULTS_QUEUE WORKER_ID [STALL_AFTER]
//
// Its own amqplib connection (promise API), prefetch 10, manual acks. For each job it
// computes the SHA-256 of the payload, publishes a result {job, worker, redelivered, digest}
// to RESULTS_QUEUE, then acks the job. With STALL_AFTER=n, once it has done n jobs it
// announces the next job it holds as {stalled: id, worker} on RESULTS_QUEUE and does nothing
// more (holding that job and the rest of its prefetch unacked) until it is killed. On
// {stop: true} over the fork IPC channel it closes its channel and connection and exits 0.
const amqplib = require('amqplib');
const { amqpUri, sha256 } = require('interop-common');

async function main() {
  const [jobsQueue, resultsQueue, workerArg, stallArg] = process.argv.slice(2);
  const worker = Number(workerArg);
  const stallAfter = stallArg === undefined ? null : Number(stallArg);

  // noDelay (TCP_NODELAY): a result and its ack are small separate writes; with Nagle's
  // algorithm each job would wait for the broker's delayed TCP ack.
  const conn = await amqplib.connect(amqpUri(), { noDelay: true });
  conn.on('error', (err) => {
    console.error(`worker ${worker}: connection error: ${err.message}`);
    process.exit(1);
  });
  const ch = await conn.createChannel();
  await ch.prefetch(10);
  let done = 0;
  let stalled = false;
  await ch.consume(jobsQueue, (msg) => {
    if (msg === null) {
      console.error(`worker ${worker}: consumer cancelled by the broker`);
      process.exit(1);
    }
    if (stalled) return; // hung mid-job: touch nothing more
    const job = JSON.parse(msg.content.toString());
    if (stallAfter !== null && done >= stallAfter) {
      stalled = true;
      ch.sendToQueue(resultsQueue, Buffer.from(JSON.stringify({ stalled: job.id, worker })));
      return; // never acked; the parent SIGKILLs this process
    }
    const result = {
      job: job.id,
      worker,
      redelivered: msg.fields.redelivered,
      digest: sha256(Buffer.from(job.payload)),
    };
    ch.sendToQueue(resultsQueue, Buffer.from(JSON.stringify(result)));
    ch.ack(msg);
    done += 1;
  });
  // {stop: true} from the parent: close the channel (a handshake behind every ack sent on
  // it) and the connection, then exit 0. Exit also when the parent goes away.
  process.on('message', async (m) => {
    if (!m || !m.stop) return;
    try {
      await ch.close();
      await conn.close();
      process.exit(0);
    } catch (err) {
      console.error(`worker ${worker}: stopping: ${err.message}`);
      process.exit(1);
    }
  });
  process.on('disconnect', () => process.exit(0));
  // Tell the parent (over the fork IPC channel) that the consumer is registered.
  if (process.send) process.send({ ready: worker });
}

main().catch((err) => {
  console.error(`worker: ${err && err.stack ? err.stack : err}`);
  process.exit(1);
});
