// amqplib over amqps://: PLAIN with the server verified against the test CA, then SASL
// EXTERNAL with a client certificate (CN=guest); each makes a round trip through a queue.
const amqp = require('amqplib');
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');

const dir = process.env.INTEROP_TLS_DIR;
const read = (f) => fs.readFileSync(path.join(dir, f));

async function roundTrip(options, label) {
  const conn = await amqp.connect(process.env.AMQPS_URI, options);
  const ch = await conn.createConfirmChannel();
  const q = `interop.tls-${label}.${crypto.randomBytes(6).toString('hex')}`;
  await ch.assertQueue(q, { autoDelete: true });
  ch.sendToQueue(q, Buffer.from(label));
  await ch.waitForConfirms();
  const msg = await ch.get(q, { noAck: true });
  if (!msg || msg.content.toString() !== label) {
    throw new Error(`${label}: got ${msg && msg.content}`);
  }
  await ch.deleteQueue(q);
  await ch.close();
  await conn.close();
}

(async () => {
  await roundTrip({ ca: [read('ca.pem')], servername: '127.0.0.1' }, 'plain');
  await roundTrip(
    {
      ca: [read('ca.pem')],
      cert: read('client.pem'),
      key: read('client-key.pem'),
      credentials: amqp.credentials.external(),
    },
    'external',
  );
  console.log('ok');
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
