// The page script of the browser test: bundled by esbuild for the browser and
// run by headless Chromium from an origin other than the server's, so every SDK
// call is a cross-origin fetch the browser lets through only when the server's
// CORS answers allow it. It writes binary records with PutRecord and
// PutRecords, reads them back byte for byte, and checks that a missing stream
// surfaces as the SDK's typed exception with the request ids the server exposes.
// The outcome goes to `window.shardlogResult`: { ok: true, ... } or
// { ok: false, error } for the Node side to read.

import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  KinesisClient,
  PutRecordCommand,
  PutRecordsCommand,
  ResourceNotFoundException,
} from "@aws-sdk/client-kinesis";

/** Bound of DescribeStreamSummary calls while waiting for ACTIVE (50 ms apart). */
const MAX_STATUS_CALLS = 200;
/** Bound of GetRecords calls while reading the shard back. */
const MAX_READ_CALLS = 50;
const SEQUENCE_NUMBER = /^[0-9]{56}$/;

function check(condition, message) {
  if (!condition) throw new Error(message);
}

function sameBytes(actual, expected) {
  return actual.length === expected.length && actual.every((byte, index) => byte === expected[index]);
}

const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitActive(kinesis, name) {
  for (let call = 0; call < MAX_STATUS_CALLS; call++) {
    const answer = await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: name }));
    if (answer.StreamDescriptionSummary.StreamStatus === "ACTIVE") return;
    await delay(50);
  }
  throw new Error(`${name} not ACTIVE after ${MAX_STATUS_CALLS} DescribeStreamSummary calls`);
}

/** The records to write: every byte value, then bytes a text decoder would mangle. */
function recordsToWrite() {
  return [
    { PartitionKey: "all-bytes", Data: Uint8Array.from({ length: 256 }, (_, index) => index) },
    { PartitionKey: "zeros", Data: new Uint8Array(1000) },
    { PartitionKey: "invalid-utf8", Data: Uint8Array.from([0xff, 0xfe, 0x00, 0xc3, 0x28, 0x80, 0x0a]) },
    { PartitionKey: "ünïcode-key", Data: new TextEncoder().encode("héllo\r\n\u2028") },
  ];
}

/** PutRecord for the first record and PutRecords for the rest; returns their sequence numbers in order. */
async function putAll(kinesis, name, records) {
  const [first, ...rest] = records;
  const single = await kinesis.send(new PutRecordCommand({ StreamName: name, ...first }));
  check(SEQUENCE_NUMBER.test(single.SequenceNumber), `PutRecord sequence number ${single.SequenceNumber}`);
  const batch = await kinesis.send(new PutRecordsCommand({ StreamName: name, Records: rest }));
  check(batch.FailedRecordCount === 0, `PutRecords failed ${batch.FailedRecordCount} records`);
  check(batch.Records.length === rest.length, `PutRecords answered ${batch.Records.length} entries`);
  return [single.SequenceNumber, ...batch.Records.map((entry) => entry.SequenceNumber)];
}

async function readBack(kinesis, name, count) {
  const { ShardIterator } = await kinesis.send(
    new GetShardIteratorCommand({ StreamName: name, ShardId: "shardId-000000000000", ShardIteratorType: "TRIM_HORIZON" }),
  );
  const records = [];
  let iterator = ShardIterator;
  for (let call = 0; call < MAX_READ_CALLS && records.length < count; call++) {
    const answer = await kinesis.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 100 }));
    records.push(...answer.Records);
    iterator = answer.NextShardIterator;
  }
  check(records.length === count, `read ${records.length} records back, wrote ${count}`);
  return records;
}

/** A missing stream must be a ResourceNotFoundException carrying the ids only exposed headers reveal. */
async function checkMissingStream(kinesis) {
  let caught;
  try {
    await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: "browser-no-such-stream" }));
  } catch (error) {
    caught = error;
  }
  check(caught !== undefined, "DescribeStreamSummary of a missing stream succeeded");
  check(
    caught instanceof ResourceNotFoundException,
    `expected ResourceNotFoundException, got ${caught.name}: ${caught.message}`,
  );
  check(caught.$metadata.httpStatusCode === 400, `missing stream answered HTTP ${caught.$metadata.httpStatusCode}`);
  check(caught.message.includes("browser-no-such-stream"), `message ${JSON.stringify(caught.message)}`);
  // Readable only because the server lists these headers in Access-Control-Expose-Headers.
  check(Boolean(caught.$metadata.requestId), "no x-amzn-RequestId visible to the page");
  check(Boolean(caught.$metadata.extendedRequestId), "no x-amz-id-2 visible to the page");
  return { requestId: caught.$metadata.requestId, extendedRequestId: caught.$metadata.extendedRequestId };
}

async function run() {
  const params = new URLSearchParams(location.search);
  const endpoint = params.get("endpoint");
  check(endpoint, "the page needs ?endpoint=<server url>");
  const kinesis = new KinesisClient({
    endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: params.get("accessKeyId"), secretAccessKey: params.get("secretAccessKey") },
    // One attempt per call: every error surfaces as the server answered it.
    maxAttempts: 1,
  });
  const name = `browser-${crypto.randomUUID().slice(0, 8)}`;
  await kinesis.send(new CreateStreamCommand({ StreamName: name, ShardCount: 1 }));
  await waitActive(kinesis, name);
  const written = recordsToWrite();
  const sequenceNumbers = await putAll(kinesis, name, written);
  const read = await readBack(kinesis, name, written.length);
  read.forEach((record, index) => {
    const expected = written[index];
    check(record.PartitionKey === expected.PartitionKey, `record ${index} key ${record.PartitionKey}`);
    check(record.SequenceNumber === sequenceNumbers[index], `record ${index} sequence number ${record.SequenceNumber}`);
    check(record.Data instanceof Uint8Array, `record ${index} data is not a Uint8Array`);
    check(sameBytes(record.Data, expected.Data), `record ${index} bytes differ: [${record.Data}]`);
  });
  const missing = await checkMissingStream(kinesis);
  return { stream: name, recordsRead: read.length, ...missing };
}

run().then(
  (result) => {
    window.shardlogResult = { ok: true, ...result };
  },
  (error) => {
    window.shardlogResult = { ok: false, error: `${error.name}: ${error.message}\n${error.stack}` };
  },
);
