// Goal: the JS SDK v3 SQS client and the `sqs-consumer` library work unchanged against `shardlog serve`: the SDK sends, receives (checking its MD5 digests), deletes and gets modeled errors; a FIFO receive returns a group's messages in order; a Consumer handles and deletes every message exactly once and leaves the queue empty.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  QueueDoesNotExist,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
} from "@aws-sdk/client-sqs";
import { Consumer } from "sqs-consumer";
import { Server, sqsClient, uniqueName, waitUntil } from "./support.mjs";

/** Messages the consumer test sends (bounded load). */
const CONSUMED_COUNT = 25;
/** Bound of the wait for the consumer to handle them all. */
const CONSUME_TIMEOUT_MS = 20_000;

let server;
let sqs;

before(async () => {
  server = await new Server().start();
  sqs = sqsClient(server.url);
});

after(async () => {
  sqs?.destroy();
  await server?.stop();
});

async function newQueue(prefix, attributes = {}) {
  const name = uniqueName(prefix) + (attributes.FifoQueue ? ".fifo" : "");
  const created = await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
  return created.QueueUrl;
}

async function depth(url) {
  const answer = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["All"] }));
  const { ApproximateNumberOfMessages: visible, ApproximateNumberOfMessagesNotVisible: hidden } = answer.Attributes;
  return Number(visible) + Number(hidden);
}

test("the SDK sends, receives with attributes and digests, and deletes", async () => {
  const url = await newQueue("js-sqs");
  const sent = await sqs.send(
    new SendMessageCommand({
      QueueUrl: url,
      MessageBody: "hello é",
      MessageAttributes: {
        kind: { DataType: "String", StringValue: "greeting" },
        raw: { DataType: "Binary", BinaryValue: new Uint8Array([0, 1, 2]) },
      },
    }),
  );
  assert.match(sent.MessageId, /^[0-9a-f-]{36}$/);
  const batch = await sqs.send(
    new SendMessageBatchCommand({
      QueueUrl: url,
      Entries: [1, 2].map((i) => ({ Id: `e${i}`, MessageBody: `batch ${i}` })),
    }),
  );
  assert.deepEqual(batch.Successful.map((entry) => entry.Id).sort(), ["e1", "e2"]);
  // The SDK compares MD5OfBody and MD5OfMessageAttributes with its own digests.
  const received = await sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: url,
      MaxNumberOfMessages: 10,
      WaitTimeSeconds: 1,
      MessageAttributeNames: ["All"],
      MessageSystemAttributeNames: ["ApproximateReceiveCount"],
    }),
  );
  const bodies = received.Messages.map((m) => m.Body).sort();
  assert.deepEqual(bodies, ["batch 1", "batch 2", "hello é"]);
  const hello = received.Messages.find((m) => m.Body === "hello é");
  assert.equal(hello.MessageAttributes.kind.StringValue, "greeting");
  assert.deepEqual([...hello.MessageAttributes.raw.BinaryValue], [0, 1, 2]);
  assert.equal(hello.Attributes.ApproximateReceiveCount, "1");
  const deleted = await sqs.send(
    new DeleteMessageBatchCommand({
      QueueUrl: url,
      Entries: received.Messages.map((m, i) => ({ Id: `d${i}`, ReceiptHandle: m.ReceiptHandle })),
    }),
  );
  assert.equal(deleted.Successful.length, 3);
  assert.equal(await depth(url), 0);
  await assert.rejects(
    sqs.send(new GetQueueUrlCommand({ QueueName: uniqueName("missing") })),
    (error) => error instanceof QueueDoesNotExist && error.$metadata.httpStatusCode === 400,
  );
});

test("a FIFO receive returns a group's messages in send order", async () => {
  const url = await newQueue("js-fifo", { FifoQueue: "true" });
  for (const i of [0, 1, 2]) {
    await sqs.send(
      new SendMessageCommand({ QueueUrl: url, MessageBody: `m${i}`, MessageGroupId: "g", MessageDeduplicationId: `d${i}` }),
    );
  }
  const received = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
  assert.deepEqual(received.Messages.map((m) => m.Body), ["m0", "m1", "m2"]);
  const held = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10 }));
  assert.equal(held.Messages, undefined, "the group is held while its messages are in flight");
});

test("sqs-consumer handles and deletes every message exactly once", async () => {
  const url = await newQueue("js-consumer");
  const expected = [];
  for (let batch = 0; batch < CONSUMED_COUNT; batch += 10) {
    const entries = [];
    for (let i = batch; i < Math.min(batch + 10, CONSUMED_COUNT); i++) {
      entries.push({ Id: `m${i}`, MessageBody: `job ${i}` });
      expected.push(`job ${i}`);
    }
    const sent = await sqs.send(new SendMessageBatchCommand({ QueueUrl: url, Entries: entries }));
    assert.equal(sent.Successful.length, entries.length);
  }
  const handled = [];
  const errors = [];
  const consumer = Consumer.create({
    queueUrl: url,
    sqs,
    batchSize: 10,
    waitTimeSeconds: 1,
    handleMessage: async (message) => {
      handled.push(message.Body);
      return message;
    },
  });
  for (const event of ["error", "processing_error", "timeout_error"]) {
    consumer.on(event, (error) => errors.push(`${event}: ${error.message}`));
  }
  consumer.start();
  try {
    // Handled, and the deletes acknowledged: nothing left in the queue, visible or not.
    await waitUntil(
      async () => handled.length >= CONSUMED_COUNT && (await depth(url)) === 0,
      CONSUME_TIMEOUT_MS,
      `${CONSUMED_COUNT} messages handled and deleted`,
    );
  } finally {
    consumer.stop({ abort: true });
  }
  assert.deepEqual(errors, []);
  assert.deepEqual([...handled].sort(), [...expected].sort(), "each message handled exactly once");
  assert.equal(await depth(url), 0);
});
