'use strict';
// A background-job worker process for background-jobs.js (not a scenario itself); started
// with child_process.fork, so it talks to its parent over the IPC channel.
//
// usage: job-worker.js JOBS_QUEUE RESULTS_QUEUE WORKER_ID [STALL_AFTER]
//
// Its own connection, prefetch 10, manual acks. For each job it computes the SHA-256 of the
// payload, publishes a result {job, worker, redelivered, digest} to RESULTS_QUEUE, then acks
// the job. It tells the parent {ready} once its consumer is registered. With STALL_AFTER=n,
// after n jobs it stalls mid-job: it makes one round trip on its channel (so every result
// and ack it sent before has reached the broker), announces {stalled: <job id>} and then
// does nothing more, holding that job and the rest of its prefetch unacked until killed.
// It exits if the parent goes away, and closes cleanly when the parent sends {stop}.
const crypto = require('node:crypto');
const amqplib = require('amqplib/callback_api');
const { amqpUri } = require('interop-common');

const [jobsQueue, resultsQueue, workerArg, stallArg] = process.argv.slice(2);
const worker = Number(workerArg);
const stallAfter = stallArg === undefined ? null : Number(stallArg);

function die(err) {
  console.error(`worker ${worker}:`, err && err.stack ? err.stack : err);
  process.exit(2);
}

process.on('disconnect', () => process.exit(3)); // the parent is gone

// noDelay: results and acks are small writes; Nagle's algorithm would hold them back.
amqplib.connect(amqpUri(), { noDelay: true }, (err, conn) => {
  if (err) return die(err);
  conn.on('error', die);
  return conn.createChannel((err, ch) => {
    if (err) return die(err);
    ch.on('error', die);
    let done = 0;
    let stalled = false;
    process.on('message', (msg) => {
      if (msg && msg.stop) conn.close(() => process.exit(0));
    });
    ch.prefetch(10);
    return ch.consume(jobsQueue, (msg) => {
      if (msg === null) return die(new Error('consumer cancelled by the broker'));
      if (stalled) return undefined; // hung: never touch another job
      const job = JSON.parse(msg.content.toString());
      if (stallAfter !== null && done >= stallAfter) {
        stalled = true;
        return ch.checkQueue(resultsQueue, (err) => {
          if (err) return die(err);
          return process.send({ stalled: job.id, worker });
        });
      }
      const result = {
        job: job.id,
        worker,
        redelivered: msg.fields.redelivered,
        digest: crypto.createHash('sha256').update(job.payload).digest('hex'),
      };
      ch.sendToQueue(resultsQueue, Buffer.from(JSON.stringify(result)), { contentType: 'application/json' });
      ch.ack(msg);
      done += 1;
      return undefined;
    }, { noAck: false }, (err) => {
      if (err) return die(err);
      return process.send({ ready: worker });
    });
  });
});
