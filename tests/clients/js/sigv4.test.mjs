// Goal: a JS SDK v3 client signing with SigV4 is accepted by `shardlog serve --credentials` with the right secret and refused as real Kinesis refuses a wrong one.
// The server checks each signature with the secret it knows for the access key
// (server/src/sigv4.rs); see also tests/clients/test_sigv4.py.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import {
  CreateStreamCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  ListStreamsCommand,
  PutRecordCommand,
} from "@aws-sdk/client-kinesis";
import { ACCESS_KEY, SECRET_KEY, Server, expectError, kinesisClient, uniqueName } from "./support.mjs";

let server;
const clients = [];

function client(accessKeyId, secretAccessKey) {
  const made = kinesisClient(server.url, { accessKeyId, secretAccessKey });
  clients.push(made);
  return made;
}

before(async () => {
  server = await new Server({ credentials: `${ACCESS_KEY}:${SECRET_KEY}` }).start();
});

after(async () => {
  for (const made of clients) made.destroy();
  await server?.stop();
});

test("the right key and secret can create, write, read and list", async () => {
  // Goal: requests the SDK signs with the configured key and secret are all accepted and work.
  const kinesis = client(ACCESS_KEY, SECRET_KEY);
  const name = uniqueName("signed");
  await kinesis.send(new CreateStreamCommand({ StreamName: name, ShardCount: 1 }));
  const data = new Uint8Array([0, 0x73, 0x69, 0x67, 0xff]);
  await kinesis.send(new PutRecordCommand({ StreamName: name, PartitionKey: "k", Data: data }));
  const { ShardIterator: iterator } = await kinesis.send(
    new GetShardIteratorCommand({ StreamName: name, ShardId: "shardId-000000000000", ShardIteratorType: "TRIM_HORIZON" }),
  );
  const { Records: records } = await kinesis.send(new GetRecordsCommand({ ShardIterator: iterator }));
  assert.deepEqual(
    records.map((r) => [...r.Data]),
    [[...data]],
  );
  const { StreamNames: names } = await kinesis.send(new ListStreamsCommand({}));
  assert.deepEqual(names, [name]);
});

test("a wrong secret is InvalidSignatureException and changes nothing", async () => {
  // Goal: the right access key signed with a wrong secret gets InvalidSignatureException (HTTP 400) with real Kinesis's message, and no stream is created.
  const wrong = client(ACCESS_KEY, "not-the-secret");
  const before = await client(ACCESS_KEY, SECRET_KEY).send(new ListStreamsCommand({}));
  await expectError(
    wrong.send(new CreateStreamCommand({ StreamName: "never", ShardCount: 1 })),
    "InvalidSignatureException",
    "The request signature we calculated does not match the signature you provided.",
  );
  const afterwards = await client(ACCESS_KEY, SECRET_KEY).send(new ListStreamsCommand({}));
  assert.deepEqual(afterwards.StreamNames, before.StreamNames);
  assert.ok(!afterwards.StreamNames.includes("never"));
});

test("an unknown access key is UnrecognizedClientException", async () => {
  // Goal: a key the server does not know gets UnrecognizedClientException (HTTP 400) with real Kinesis's message.
  await expectError(
    client("AKIDUNKNOWN", SECRET_KEY).send(new ListStreamsCommand({})),
    "UnrecognizedClientException",
    "The security token included in the request is invalid.",
  );
});
