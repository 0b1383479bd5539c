// kafkajs against a broker: admin (create, list, delete topics; group offsets), a producer and a
// consumer group. Prints one JSON line per check, {"check": name, "ok": bool, ...}, and "done".
// Usage: node kafkajs_check.js HOST:PORT PREFIX
'use strict';

const { Kafka, logLevel } = require('kafkajs');

const [bootstrap, prefix] = process.argv.slice(2);
const RECORDS = 30;
const PARTITIONS = 3;
const topic = `${prefix}-records`;
const group = `${prefix}-group`;

const kafka = new Kafka({ clientId: `${prefix}-client`, brokers: [bootstrap], logLevel: logLevel.NOTHING,
                          retry: { retries: 10, initialRetryTime: 200 } });

function report(check, fields) {
  console.log(JSON.stringify({ check, ok: true, ...fields }));
}

async function step(check, fn) {
  try {
    report(check, await fn());
  } catch (err) {
    console.log(JSON.stringify({ check, ok: false, error: err.name || 'Error', message: String(err.message) }));
    throw err;
  }
}

async function consumeAll(admin) {
  const consumer = kafka.consumer({ groupId: group, sessionTimeout: 10000, heartbeatInterval: 1000 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const seen = new Map();
  const byPartition = {};
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`consumed ${seen.size} of ${RECORDS} within 60 s`)), 60000);
    consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        seen.set(message.key.toString(), message.value.toString());
        byPartition[partition] = (byPartition[partition] || 0) + 1;
        await consumer.commitOffsets([{ topic, partition, offset: (BigInt(message.offset) + 1n).toString() }]);
        if (seen.size === RECORDS) {
          clearTimeout(timer);
          resolve();
        }
      },
    }).catch(reject);
  });
  await consumer.disconnect();
  const intact = [...seen].every(([k, v]) => v === `value-${k.slice(4)}`);
  return { records: seen.size, intact, partitions: Object.keys(byPartition).length };
}

async function main() {
  const admin = kafka.admin();
  await admin.connect();
  await step('create_topic', async () => ({
    created: await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }], waitForLeaders: true }),
  }));
  await step('list_topics', async () => ({ listed: (await admin.listTopics()).includes(topic) }));
  await step('produce', async () => {
    const producer = kafka.producer();
    await producer.connect();
    const messages = Array.from({ length: RECORDS }, (_, i) => ({ key: `key-${i}`, value: `value-${i}` }));
    const acked = await producer.send({ topic, messages, acks: -1 });
    await producer.disconnect();
    return { partitions: acked.length, errors: acked.filter((r) => r.errorCode !== 0).length };
  });
  await step('consume_group', () => consumeAll(admin));
  await step('committed_offsets', async () => {
    const [fetched] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
    return { sum: fetched.partitions.reduce((n, p) => n + Number(p.offset), 0) };
  });
  await step('describe_group', async () => {
    const { groups } = await admin.describeGroups([group]);
    return { state: groups[0].state, members: groups[0].members.length };
  });
  await step('delete_topic', async () => {
    await admin.deleteTopics({ topics: [topic] });
    return { still_listed: (await admin.listTopics()).includes(topic) };
  });
  await admin.disconnect();
  console.log(JSON.stringify({ check: 'done', ok: true }));
}

main().catch(() => process.exit(1));
