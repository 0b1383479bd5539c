// kafkajs over a secured listener: one topic made by the admin client, one record produced and read
// back by a consumer group; or, with a wrong password, the error the connection ends with.
// Prints one JSON line per check, {"check": name, "ok": bool, ...}, and "done".
// Usage: node kafkajs_security.js SETTINGS_JSON
//   SETTINGS_JSON: {"bootstrap", "topic", "ca"?, "cert"?, "key"?, "sasl"?: {"mechanism", "username", "password"}}
'use strict';

const fs = require('fs');
const { Kafka, logLevel } = require('kafkajs');

const settings = JSON.parse(process.argv[2]);
const ssl = settings.ca === undefined ? false : {
  ca: [fs.readFileSync(settings.ca, 'utf-8')],
  ...(settings.cert ? { cert: fs.readFileSync(settings.cert, 'utf-8'), key: fs.readFileSync(settings.key, 'utf-8') } : {}),
};
const kafka = new Kafka({ clientId: 'kafkajs-security', brokers: [settings.bootstrap], ssl, sasl: settings.sasl,
                          logLevel: logLevel.NOTHING, connectionTimeout: 5000,
                          retry: { retries: 2, initialRetryTime: 200 } });
const topic = settings.topic;

function line(check, ok, fields) {
  console.log(JSON.stringify({ check, ok, ...fields }));
}

async function main() {
  const admin = kafka.admin();
  try {
    await admin.connect();
    await admin.listTopics();
  } catch (err) {
    line('connect', false, { error: err.name || 'Error', message: String(err.message) });
    return;
  }
  line('connect', true, {});
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
  await admin.disconnect();
  const producer = kafka.producer();
  await producer.connect();
  const [sent] = await producer.send({ topic, acks: -1, messages: [{ key: 'k', value: 'over-kafkajs' }] });
  await producer.disconnect();
  line('produce', sent.errorCode === 0, { offset: sent.baseOffset });
  const consumer = kafka.consumer({ groupId: `${topic}-group`, sessionTimeout: 10000, heartbeatInterval: 1000 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const value = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no record within 60 s')), 60000);
    consumer.run({
      eachMessage: async ({ message }) => {
        clearTimeout(timer);
        resolve(message.value.toString());
      },
    }).catch(reject);
  });
  await consumer.disconnect();
  line('consume', true, { value });
}

main()
  .catch((err) => line('failed', false, { error: err.name || 'Error', message: String(err.message) }))
  .finally(() => console.log('{"check": "done", "ok": true}'));
