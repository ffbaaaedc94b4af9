// Goal: the AWS SDK for JavaScript v3 Kinesis client works unchanged against a real `shardlog serve`.
// Stream lifecycle, byte-exact writes and reads with every iterator type,
// resharding, tags and error shapes as the SDK surfaces them.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import {
  AddTagsToStreamCommand,
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  ListShardsCommand,
  ListStreamsCommand,
  ListTagsForStreamCommand,
  PutRecordCommand,
  PutRecordsCommand,
  RemoveTagsFromStreamCommand,
  SplitShardCommand,
} from "@aws-sdk/client-kinesis";
import {
  ACCOUNT_ID,
  SEQUENCE_NUMBER,
  SHARD_ID,
  Server,
  expectError,
  kinesisClient,
  newStream,
  streamArn,
  uniqueName,
  waitActive,
} from "./support.mjs";

/** Bound of GetRecords calls when reading one shard to its end. */
const MAX_READ_CALLS = 200;

let server;
let kinesis;

before(async () => {
  server = await new Server().start();
  kinesis = kinesisClient(server.url);
});

after(async () => {
  kinesis?.destroy();
  await server?.stop();
});

async function shardIterator(name, shardId, type, extra = {}) {
  const answer = await kinesis.send(
    new GetShardIteratorCommand({ StreamName: name, ShardId: shardId, ShardIteratorType: type, ...extra }),
  );
  assert.equal(typeof answer.ShardIterator, "string");
  return answer.ShardIterator;
}

/**
 * Reads from `iterator` until the shard ends (no NextShardIterator) or a call
 * returns no record on an open shard. Returns { records, last }.
 */
async function readShard(iterator) {
  const records = [];
  let current = iterator;
  for (let call = 0; call < MAX_READ_CALLS; call++) {
    const answer = await kinesis.send(new GetRecordsCommand({ ShardIterator: current, Limit: 10_000 }));
    records.push(...answer.Records);
    current = answer.NextShardIterator;
    if (current === undefined || answer.Records.length === 0) return { records, last: answer };
  }
  throw new Error(`shard still had records after ${MAX_READ_CALLS} GetRecords calls`);
}

const text = (bytes) => Buffer.from(bytes).toString("latin1");

test("CreateStream with 2 shards is described and listed", async () => {
  // Goal: CreateStream(ShardCount 2) gives an ACTIVE stream whose summary and ListShards show 2 open shards covering the hash key space.
  const name = await newStream(kinesis, 2);
  const { StreamDescriptionSummary: summary } = await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: name }));
  assert.equal(summary.StreamName, name);
  assert.equal(summary.StreamARN, streamArn(name));
  assert.equal(summary.OpenShardCount, 2);
  assert.equal(summary.StreamStatus, "ACTIVE");
  assert.ok(summary.StreamCreationTimestamp instanceof Date);
  assert.equal(summary.RetentionPeriodHours, 24);

  const { Shards: shards } = await kinesis.send(new ListShardsCommand({ StreamName: name }));
  assert.deepEqual(
    shards.map((s) => s.ShardId),
    ["shardId-000000000000", "shardId-000000000001"],
  );
  for (const shard of shards) {
    assert.match(shard.ShardId, SHARD_ID);
    assert.match(shard.SequenceNumberRange.StartingSequenceNumber, SEQUENCE_NUMBER);
    assert.equal(shard.SequenceNumberRange.EndingSequenceNumber, undefined);
  }
  assert.equal(shards[0].HashKeyRange.StartingHashKey, "0");
  assert.equal(shards[1].HashKeyRange.EndingHashKey, (2n ** 128n - 1n).toString());
  assert.equal(BigInt(shards[0].HashKeyRange.EndingHashKey) + 1n, BigInt(shards[1].HashKeyRange.StartingHashKey));

  const { StreamNames: names } = await kinesis.send(new ListStreamsCommand({ Limit: 10_000 }));
  assert.ok(names.includes(name));
});

test("PutRecord and PutRecords data is read back byte-exact with every iterator type", async () => {
  // Goal: binary Uint8Array data written by PutRecord/PutRecords comes back byte-exact, and TRIM_HORIZON, AT_/AFTER_SEQUENCE_NUMBER, AT_TIMESTAMP and LATEST start where Kinesis says.
  const name = await newStream(kinesis, 1);
  const shard = "shardId-000000000000";
  const first = new Uint8Array([0, 1, 2, 0xfe, 0xff, 0x80, 10, 13]);
  const put = await kinesis.send(new PutRecordCommand({ StreamName: name, PartitionKey: "k", Data: first }));
  assert.equal(put.ShardId, shard);
  assert.match(put.SequenceNumber, SEQUENCE_NUMBER);

  const batch = Array.from({ length: 5 }, (_, i) => new Uint8Array([i, 0xff - i, 0, i * 7]));
  const many = await kinesis.send(
    new PutRecordsCommand({ StreamName: name, Records: batch.map((data, i) => ({ Data: data, PartitionKey: `p${i}` })) }),
  );
  assert.equal(many.FailedRecordCount, 0);
  assert.equal(many.Records.length, 5);
  const sequences = [put.SequenceNumber, ...many.Records.map((r) => r.SequenceNumber)];
  for (const record of many.Records) {
    assert.equal(record.ShardId, shard);
    assert.match(record.SequenceNumber, SEQUENCE_NUMBER);
  }
  for (let i = 1; i < sequences.length; i++) assert.ok(BigInt(sequences[i]) > BigInt(sequences[i - 1]));
  const written = [first, ...batch];

  const all = await readShard(await shardIterator(name, shard, "TRIM_HORIZON"));
  assert.deepEqual(
    all.records.map((r) => text(r.Data)),
    written.map(text),
  );
  assert.ok(all.records.every((r) => r.Data instanceof Uint8Array));
  assert.deepEqual(
    all.records.map((r) => r.SequenceNumber),
    sequences,
  );
  assert.deepEqual(
    all.records.map((r) => r.PartitionKey),
    ["k", "p0", "p1", "p2", "p3", "p4"],
  );
  assert.ok(all.records.every((r) => r.ApproximateArrivalTimestamp instanceof Date));

  const at = await readShard(await shardIterator(name, shard, "AT_SEQUENCE_NUMBER", { StartingSequenceNumber: sequences[2] }));
  assert.deepEqual(
    at.records.map((r) => r.SequenceNumber),
    sequences.slice(2),
  );
  const afterSeq = await readShard(
    await shardIterator(name, shard, "AFTER_SEQUENCE_NUMBER", { StartingSequenceNumber: sequences[2] }),
  );
  assert.deepEqual(
    afterSeq.records.map((r) => r.SequenceNumber),
    sequences.slice(3),
  );

  // AT_TIMESTAMP at the first record's arrival time reads everything; one far in the past too.
  const fromFirst = await readShard(
    await shardIterator(name, shard, "AT_TIMESTAMP", { Timestamp: all.records[0].ApproximateArrivalTimestamp }),
  );
  assert.deepEqual(
    fromFirst.records.map((r) => r.SequenceNumber),
    sequences,
  );
  const fromPast = await readShard(await shardIterator(name, shard, "AT_TIMESTAMP", { Timestamp: new Date(0) }));
  assert.equal(fromPast.records.length, sequences.length);

  // LATEST sees nothing written before it, then exactly what is written after.
  const latest = await shardIterator(name, shard, "LATEST");
  const empty = await kinesis.send(new GetRecordsCommand({ ShardIterator: latest }));
  assert.deepEqual(empty.Records, []);
  assert.equal(typeof empty.NextShardIterator, "string");
  assert.equal(empty.MillisBehindLatest, 0);
  const late = new Uint8Array([0xde, 0xad, 0xbe, 0xef]);
  const latePut = await kinesis.send(new PutRecordCommand({ StreamName: name, PartitionKey: "late", Data: late }));
  const afterLatest = await readShard(empty.NextShardIterator);
  assert.deepEqual(
    afterLatest.records.map((r) => [r.SequenceNumber, text(r.Data)]),
    [[latePut.SequenceNumber, text(late)]],
  );
});

test("SplitShard closes the parent, which reads to its end, and the children take new writes", async () => {
  // Goal: after SplitShard the closed parent is read to its end (ChildShards, no NextShardIterator) and new records land in the two children.
  const name = await newStream(kinesis, 1);
  const parent = "shardId-000000000000";
  const before = [];
  for (let i = 0; i < 4; i++) {
    const data = new Uint8Array([0x70, i]);
    await kinesis.send(new PutRecordCommand({ StreamName: name, PartitionKey: `b${i}`, Data: data }));
    before.push(text(data));
  }
  const middle = (2n ** 127n).toString();
  await kinesis.send(new SplitShardCommand({ StreamName: name, ShardToSplit: parent, NewStartingHashKey: middle }));
  await waitActive(kinesis, name);

  const { Shards: shards } = await kinesis.send(new ListShardsCommand({ StreamName: name }));
  assert.deepEqual(
    shards.map((s) => s.ShardId),
    [parent, "shardId-000000000001", "shardId-000000000002"],
  );
  assert.match(shards[0].SequenceNumberRange.EndingSequenceNumber, SEQUENCE_NUMBER);
  const children = shards.slice(1);
  for (const child of children) assert.equal(child.ParentShardId, parent);
  assert.equal(children[1].HashKeyRange.StartingHashKey, middle);

  const closed = await readShard(await shardIterator(name, parent, "TRIM_HORIZON"));
  assert.deepEqual(
    closed.records.map((r) => text(r.Data)),
    before,
  );
  assert.equal(closed.last.NextShardIterator, undefined);
  assert.deepEqual(closed.last.ChildShards.map((c) => c.ShardId).sort(), ["shardId-000000000001", "shardId-000000000002"]);
  for (const child of closed.last.ChildShards) assert.deepEqual(child.ParentShards, [parent]);

  // Explicit hash keys route one record to each child.
  const low = await kinesis.send(
    new PutRecordCommand({ StreamName: name, PartitionKey: "x", ExplicitHashKey: "1", Data: new Uint8Array([1]) }),
  );
  const high = await kinesis.send(
    new PutRecordCommand({ StreamName: name, PartitionKey: "x", ExplicitHashKey: middle, Data: new Uint8Array([2]) }),
  );
  assert.equal(low.ShardId, "shardId-000000000001");
  assert.equal(high.ShardId, "shardId-000000000002");
  const lowRead = await readShard(await shardIterator(name, low.ShardId, "TRIM_HORIZON"));
  const highRead = await readShard(await shardIterator(name, high.ShardId, "TRIM_HORIZON"));
  assert.deepEqual(
    lowRead.records.map((r) => [...r.Data]),
    [[1]],
  );
  assert.deepEqual(
    highRead.records.map((r) => [...r.Data]),
    [[2]],
  );
});

test("errors come back as the SDK's modeled exceptions", async () => {
  // Goal: a missing stream is ResourceNotFoundException (HTTP 400) and bad input is InvalidArgumentException or ValidationException, as real Kinesis answers.
  const missing = uniqueName("missing");
  const notFound = await expectError(
    kinesis.send(new DescribeStreamSummaryCommand({ StreamName: missing })),
    "ResourceNotFoundException",
    `Stream ${missing} under account ${ACCOUNT_ID} not found.`,
  );
  assert.equal(notFound.$fault, "client");
  await expectError(
    kinesis.send(new PutRecordCommand({ StreamName: missing, PartitionKey: "k", Data: new Uint8Array([1]) })),
    "ResourceNotFoundException",
  );

  // Constraint violations the API model declares are ValidationException.
  await expectError(
    kinesis.send(new CreateStreamCommand({ StreamName: "bad name!", ShardCount: 1 })),
    "ValidationException",
    "at 'streamName' failed to satisfy constraint",
  );
  const name = await newStream(kinesis, 1);
  await expectError(
    kinesis.send(
      new PutRecordCommand({ StreamName: name, PartitionKey: "k", Data: new Uint8Array(1024 * 1024 + 1) }),
    ),
    "ValidationException",
    "Member must have length less than or equal to 1048576",
  );
  await expectError(
    kinesis.send(new GetShardIteratorCommand({ StreamName: name, ShardId: "shardId-000000000000", ShardIteratorType: "BOGUS" })),
    "ValidationException",
    "at 'shardIteratorType' failed to satisfy constraint: Member must satisfy enum value set",
  );
  await expectError(
    kinesis.send(new GetRecordsCommand({ ShardIterator: "bm90LWFuLWl0ZXJhdG9y", Limit: 0 })),
    "ValidationException",
    "at 'limit' failed to satisfy constraint: Member must have value between 1 and 10000",
  );
  // Semantic errors are InvalidArgumentException.
  await expectError(
    kinesis.send(new GetRecordsCommand({ ShardIterator: "bm90LWFuLWl0ZXJhdG9y" })),
    "InvalidArgumentException",
    "Invalid ShardIterator",
  );
  await expectError(
    kinesis.send(
      new SplitShardCommand({ StreamName: name, ShardToSplit: "shardId-000000000000", NewStartingHashKey: "0" }),
    ),
    "InvalidArgumentException",
    "NewStartingHashKey",
  );
  await expectError(
    kinesis.send(new GetShardIteratorCommand({ StreamName: name, ShardId: "shardId-000000000000", ShardIteratorType: "AT_SEQUENCE_NUMBER" })),
    "InvalidArgumentException",
    "StartingSequenceNumber",
  );
});

test("tags are added, listed and removed", async () => {
  // Goal: AddTagsToStream/ListTagsForStream/RemoveTagsFromStream round-trip through the SDK.
  const name = await newStream(kinesis, 1);
  await kinesis.send(new AddTagsToStreamCommand({ StreamName: name, Tags: { team: "data", env: "test" } }));
  const listed = await kinesis.send(new ListTagsForStreamCommand({ StreamName: name }));
  assert.deepEqual(
    listed.Tags.map((t) => [t.Key, t.Value]).sort(),
    [
      ["env", "test"],
      ["team", "data"],
    ],
  );
  assert.equal(listed.HasMoreTags, false);
  await kinesis.send(new RemoveTagsFromStreamCommand({ StreamName: name, TagKeys: ["env"] }));
  const left = await kinesis.send(new ListTagsForStreamCommand({ StreamName: name }));
  assert.deepEqual(
    left.Tags.map((t) => [t.Key, t.Value]),
    [["team", "data"]],
  );
});
