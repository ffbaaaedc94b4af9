// Goal: the JS SDK v3 Firehose client works unchanged against `shardlog serve`: a DirectPut delivery stream delivers PutRecord/PutRecordBatch records to its local bucket directory.
// Objects land under <data-dir>/buckets/<bucket>/<prefix>YYYY/MM/DD/HH/ (see
// tests/clients/test_firehose.py); every wait is bounded.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync, existsSync } from "node:fs";
import { join, relative } from "node:path";
import {
  CreateDeliveryStreamCommand,
  DeleteDeliveryStreamCommand,
  DescribeDeliveryStreamCommand,
  ListDeliveryStreamsCommand,
  PutRecordBatchCommand,
  PutRecordCommand,
} from "@aws-sdk/client-firehose";
import { Server, expectError, firehoseClient, uniqueName, waitUntil } from "./support.mjs";

const ROLE = "arn:aws:iam::000000000000:role/firehose";
/** Bound of the wait for delivered objects. */
const DELIVERY_TIMEOUT_MS = 20_000;

let server;
let firehose;

before(async () => {
  server = await new Server().start();
  firehose = firehoseClient(server.url);
});

after(async () => {
  firehose?.destroy();
  await server?.stop();
});

/** Every file under `root` (recursively), skipping dot-files (in-progress uploads). */
function files(root) {
  if (!existsSync(root)) return [];
  const found = [];
  for (const entry of readdirSync(root, { recursive: true })) {
    const path = join(root, entry);
    const base = path.split("/").pop();
    if (!base.startsWith(".") && statSync(path).isFile()) found.push(path);
  }
  return found.sort();
}

test("DirectPut delivery stream: create, describe, put, deliver, delete", async () => {
  // Goal: PutRecord and PutRecordBatch records (delimited by AppendDelimiterToRecord) all appear in objects under the bucket directory, and the stream is described and deleted.
  const name = uniqueName("fh");
  const bucket = name.toLowerCase();
  const created = await firehose.send(
    new CreateDeliveryStreamCommand({
      DeliveryStreamName: name,
      DeliveryStreamType: "DirectPut",
      ExtendedS3DestinationConfiguration: {
        RoleARN: ROLE,
        BucketARN: `arn:aws:s3:::${bucket}`,
        Prefix: "in/",
        BufferingHints: { SizeInMBs: 1, IntervalInSeconds: 0 },
        CompressionFormat: "UNCOMPRESSED",
        ProcessingConfiguration: { Enabled: true, Processors: [{ Type: "AppendDelimiterToRecord" }] },
      },
    }),
  );
  assert.match(created.DeliveryStreamARN, new RegExp(`:deliverystream/${name}$`));

  const { DeliveryStreamDescription: description } = await firehose.send(
    new DescribeDeliveryStreamCommand({ DeliveryStreamName: name }),
  );
  assert.equal(description.DeliveryStreamName, name);
  assert.equal(description.DeliveryStreamStatus, "ACTIVE");
  assert.equal(description.DeliveryStreamType, "DirectPut");
  assert.equal(description.VersionId, "1");
  assert.ok(description.CreateTimestamp instanceof Date);
  const destination = description.Destinations[0].ExtendedS3DestinationDescription;
  assert.equal(destination.BucketARN, `arn:aws:s3:::${bucket}`);
  assert.equal(destination.Prefix, "in/");
  assert.equal(destination.BufferingHints.IntervalInSeconds, 0);

  const encoder = new TextEncoder();
  const single = await firehose.send(
    new PutRecordCommand({ DeliveryStreamName: name, Record: { Data: encoder.encode('{"n":"single"}') } }),
  );
  assert.equal(typeof single.RecordId, "string");
  assert.ok(single.RecordId.length > 0);
  const batch = Array.from({ length: 10 }, (_, i) => JSON.stringify({ n: i }));
  const answer = await firehose.send(
    new PutRecordBatchCommand({ DeliveryStreamName: name, Records: batch.map((r) => ({ Data: encoder.encode(r) })) }),
  );
  assert.equal(answer.FailedPutCount, 0);
  assert.equal(answer.RequestResponses.length, 10);
  const ids = answer.RequestResponses.map((r) => r.RecordId);
  assert.ok(ids.every((id) => typeof id === "string" && id.length > 0));
  assert.equal(new Set([...ids, single.RecordId]).size, 11);

  const root = join(server.dataDir, "buckets", bucket);
  const lines = () => files(root).flatMap((path) => readFileSync(path, "utf8").split("\n").filter((l) => l !== ""));
  await waitUntil(() => lines().length >= 11, DELIVERY_TIMEOUT_MS, `11 records delivered under ${root}`);
  assert.deepEqual(lines().sort(), ['{"n":"single"}', ...batch].sort());
  for (const path of files(root)) {
    const parts = relative(root, path).split("/");
    assert.equal(parts.length, 6, relative(root, path));
    assert.equal(parts[0], "in");
    assert.ok(parts[5].startsWith(`${name}-1-`), parts[5]);
  }

  await firehose.send(new DeleteDeliveryStreamCommand({ DeliveryStreamName: name }));
  const listed = await firehose.send(new ListDeliveryStreamsCommand({ Limit: 10_000 }));
  assert.ok(!listed.DeliveryStreamNames.includes(name));
  await expectError(
    firehose.send(new DescribeDeliveryStreamCommand({ DeliveryStreamName: name })),
    "ResourceNotFoundException",
    "not found",
  );
});
