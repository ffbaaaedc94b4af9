// Goal: the JS SDK v3's SubscribeToShard (enhanced fan-out over HTTP/2, h2c) reads events from shardlog through the SDK's async iterable.
// RegisterStreamConsumer, then a subscription that receives existing records,
// records put while it is open, and ChildShards at the end of a split parent.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import {
  DescribeStreamConsumerCommand,
  PutRecordsCommand,
  RegisterStreamConsumerCommand,
  SplitShardCommand,
  SubscribeToShardCommand,
} from "@aws-sdk/client-kinesis";
import { Server, expectError, kinesisClient, newStream, streamArn, uniqueName, waitUntil } from "./support.mjs";

const PARENT = "shardId-000000000000";
/** Bound of events read from one subscription. */
const MAX_EVENTS = 1000;

let server;
let kinesis;
let h2;

before(async () => {
  server = await new Server().start();
  kinesis = kinesisClient(server.url);
  h2 = kinesisClient(server.url, { http2: true });
});

after(async () => {
  kinesis?.destroy();
  h2?.destroy();
  await server?.stop();
});

/** Registers consumer `consumerName` on stream `name` and waits (bounded) until it is ACTIVE; returns its ARN. */
async function register(name, consumerName) {
  const { Consumer: consumer } = await kinesis.send(
    new RegisterStreamConsumerCommand({ StreamARN: streamArn(name), ConsumerName: consumerName }),
  );
  assert.equal(consumer.ConsumerName, consumerName);
  assert.ok(consumer.ConsumerARN.startsWith(`${streamArn(name)}/consumer/${consumerName}:`));
  await waitUntil(
    async () => {
      const answer = await kinesis.send(new DescribeStreamConsumerCommand({ ConsumerARN: consumer.ConsumerARN }));
      return answer.ConsumerDescription.ConsumerStatus === "ACTIVE";
    },
    10_000,
    `consumer ${consumerName} to be ACTIVE`,
  );
  return consumer.ConsumerARN;
}

/** Puts `count` records named `${phase}:${i}`; returns the PutRecords result entries with their data. */
async function putBatch(name, phase, count) {
  const entries = Array.from({ length: count }, (_, i) => ({
    PartitionKey: `${phase}-${i}`,
    Data: new TextEncoder().encode(`${phase}:${i}`),
  }));
  const answer = await kinesis.send(new PutRecordsCommand({ StreamName: name, Records: entries }));
  assert.equal(answer.FailedRecordCount, 0);
  return answer.Records.map((result, i) => ({ ...result, data: `${phase}:${i}` }));
}

/**
 * Reads SubscribeToShardEvents from `iterator` until `want` records arrived
 * (or, with null, until an event carries ChildShards). Returns { records, last }.
 */
async function readEvents(iterator, want) {
  const records = [];
  let last = null;
  for (let events = 0; events < MAX_EVENTS; events++) {
    const { value, done } = await iterator.next();
    if (done) throw new Error(`the event stream ended after ${records.length} records`);
    last = value.SubscribeToShardEvent;
    assert.ok(last, `not a SubscribeToShardEvent: ${JSON.stringify(Object.keys(value))}`);
    assert.equal(typeof last.ContinuationSequenceNumber, "string");
    assert.equal(typeof last.MillisBehindLatest, "number");
    records.push(...last.Records);
    if (want !== null && records.length >= want) return { records, last };
    if (want === null && last.ChildShards?.length) return { records, last };
  }
  throw new Error(`no end after ${MAX_EVENTS} events`);
}

const decode = (records) => records.map((r) => new TextDecoder().decode(r.Data));

test("SubscribeToShard delivers existing and live records and ends the parent with ChildShards", async () => {
  // Goal: the SDK's EventStream async iterable yields every record of the parent in order then ChildShards, and on a child both old records and ones put while subscribed.
  const name = await newStream(kinesis, 1, "efo");
  const consumerArn = await register(name, uniqueName("c"));
  const before = await putBatch(name, "before", 20);
  await kinesis.send(new SplitShardCommand({ StreamName: name, ShardToSplit: PARENT, NewStartingHashKey: (2n ** 127n).toString() }));

  const parent = await h2.send(
    new SubscribeToShardCommand({ ConsumerARN: consumerArn, ShardId: PARENT, StartingPosition: { Type: "TRIM_HORIZON" } }),
  );
  assert.equal(parent.$metadata.httpStatusCode, 200);
  const parentEvents = parent.EventStream[Symbol.asyncIterator]();
  const { records, last } = await readEvents(parentEvents, null);
  await parentEvents.return?.();
  assert.deepEqual(decode(records), before.map((p) => p.data));
  assert.deepEqual(
    records.map((r) => r.SequenceNumber),
    before.map((p) => p.SequenceNumber),
  );
  assert.ok(records.every((r) => r.ApproximateArrivalTimestamp instanceof Date));
  assert.deepEqual(last.ChildShards.map((c) => c.ShardId).sort(), ["shardId-000000000001", "shardId-000000000002"]);
  for (const child of last.ChildShards) assert.deepEqual(child.ParentShards, [PARENT]);

  // A child (empty so far): subscribe from TRIM_HORIZON, then put records and see them pushed.
  const child = "shardId-000000000002";
  const subscription = await h2.send(
    new SubscribeToShardCommand({ ConsumerARN: consumerArn, ShardId: child, StartingPosition: { Type: "TRIM_HORIZON" } }),
  );
  const childEvents = subscription.EventStream[Symbol.asyncIterator]();
  const live = (await putBatch(name, "live", 40)).filter((p) => p.ShardId === child);
  assert.ok(live.length > 0, "no live record hashed to the child under test");
  const got = await readEvents(childEvents, live.length);
  await childEvents.return?.();
  assert.deepEqual(decode(got.records), live.map((p) => p.data));
  assert.deepEqual(
    got.records.map((r) => r.SequenceNumber),
    live.map((p) => p.SequenceNumber),
  );
});

test("a second subscription of the same consumer and shard is ResourceInUseException", async () => {
  // Goal: while a subscription is open, the same consumer subscribing to the same shard gets ResourceInUseException (HTTP 400); another consumer subscribes independently and both receive the record.
  const name = await newStream(kinesis, 1, "efo");
  const first = await register(name, "first");
  const second = await register(name, "second");
  const position = { Type: "LATEST" };
  const open = await h2.send(new SubscribeToShardCommand({ ConsumerARN: first, ShardId: PARENT, StartingPosition: position }));
  await expectError(
    h2.send(new SubscribeToShardCommand({ ConsumerARN: first, ShardId: PARENT, StartingPosition: position })),
    "ResourceInUseException",
  );
  const other = await h2.send(new SubscribeToShardCommand({ ConsumerARN: second, ShardId: PARENT, StartingPosition: position }));
  const put = await putBatch(name, "both", 1);
  for (const answer of [open, other]) {
    const events = answer.EventStream[Symbol.asyncIterator]();
    const { records } = await readEvents(events, 1);
    await events.return?.();
    assert.deepEqual(decode(records), ["both:0"]);
    assert.equal(records[0].SequenceNumber, put[0].SequenceNumber);
  }
});

test("SubscribeToShard errors are the SDK's modeled exceptions", async () => {
  // Goal: subscribing with an unknown consumer is ResourceNotFoundException with HTTP 400, surfaced by send().
  const missing = `${streamArn(uniqueName("none"))}/consumer/nobody:1`;
  await expectError(
    h2.send(new SubscribeToShardCommand({ ConsumerARN: missing, ShardId: PARENT, StartingPosition: { Type: "LATEST" } })),
    "ResourceNotFoundException",
  );
});
