// Shared helpers of the JavaScript SDK tests: making AWS SDK v3 clients for a
// real `shardlog serve` (started by ./server.mjs) and SDK error checks.

import { randomUUID } from "node:crypto";
import { CreateStreamCommand, DescribeStreamSummaryCommand, KinesisClient } from "@aws-sdk/client-kinesis";
import { FirehoseClient } from "@aws-sdk/client-firehose";
import { SQSClient } from "@aws-sdk/client-sqs";
import { NodeHttp2Handler, NodeHttpHandler } from "@smithy/node-http-handler";
import { waitUntil } from "./server.mjs";

export { Server, waitUntil } from "./server.mjs";

export const ACCOUNT_ID = "000000000000";
export const REGION = "us-east-1";
export const ACCESS_KEY = "AKIDEXAMPLE";
export const SECRET_KEY = "secret";

/** Timeout of one SDK request (connect + answer). */
const REQUEST_TIMEOUT_MS = 30_000;

export const SEQUENCE_NUMBER = /^[0-9]{56}$/;
export const SHARD_ID = /^shardId-[0-9]{12}$/;

/** A stream, consumer or delivery stream name no other test uses. */
export function uniqueName(prefix = "s") {
  return `${prefix}-${randomUUID().replaceAll("-", "").slice(0, 12)}`;
}

/** The ARN shardlog gives the Kinesis stream `name`. */
export function streamArn(name) {
  return `arn:aws:kinesis:${REGION}:${ACCOUNT_ID}:stream/${name}`;
}

function clientConfig(endpoint, { accessKeyId = ACCESS_KEY, secretAccessKey = SECRET_KEY, http2 = false } = {}) {
  return {
    endpoint,
    region: REGION,
    credentials: { accessKeyId, secretAccessKey },
    // One attempt per call: every error surfaces as the server answered it.
    maxAttempts: 1,
    requestHandler: http2
      ? new NodeHttp2Handler({ requestTimeout: REQUEST_TIMEOUT_MS, sessionTimeout: REQUEST_TIMEOUT_MS })
      : new NodeHttpHandler({ connectionTimeout: 5_000, requestTimeout: REQUEST_TIMEOUT_MS }),
  };
}

/**
 * A Kinesis client for `endpoint` with dummy (or given) credentials. `http2`
 * selects the HTTP/2 handler SubscribeToShard needs (h2c on an http:// URL).
 */
export function kinesisClient(endpoint, options = {}) {
  return new KinesisClient(clientConfig(endpoint, options));
}

/** The StreamStatus of stream `name` (DescribeStreamSummary). */
export async function streamStatus(kinesis, name) {
  const answer = await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: name }));
  return answer.StreamDescriptionSummary.StreamStatus;
}

/** Waits (bounded) until stream `name` is ACTIVE. */
export async function waitActive(kinesis, name) {
  await waitUntil(async () => (await streamStatus(kinesis, name)) === "ACTIVE", 10_000, `${name} to be ACTIVE`);
}

/** Creates a stream of `shards` shards with a fresh name, waits until it is ACTIVE and returns the name. */
export async function newStream(kinesis, shards = 1, prefix = "js") {
  const name = uniqueName(prefix);
  await kinesis.send(new CreateStreamCommand({ StreamName: name, ShardCount: shards }));
  await waitActive(kinesis, name);
  return name;
}

/** A Firehose client for `endpoint` with dummy credentials. */
export function firehoseClient(endpoint, options = {}) {
  return new FirehoseClient(clientConfig(endpoint, options));
}

/** An SQS client for `endpoint` with dummy credentials (JSON 1.0 protocol). */
export function sqsClient(endpoint, options = {}) {
  return new SQSClient(clientConfig(endpoint, options));
}

/**
 * Awaits `promise`, asserting it rejects with an SDK error named `name`,
 * HTTP status 400 and a message holding every fragment. Returns the error.
 */
export async function expectError(promise, name, ...fragments) {
  let error;
  try {
    await promise;
  } catch (caught) {
    error = caught;
  }
  if (error === undefined) throw new Error(`expected ${name}, but the call succeeded`);
  if (error.name !== name) {
    throw new Error(`expected ${name}, got ${error.name}: ${error.message}`, { cause: error });
  }
  const status = error.$metadata?.httpStatusCode;
  if (status !== 400) throw new Error(`expected HTTP 400 for ${name}, got ${status}`, { cause: error });
  for (const fragment of fragments) {
    if (!error.message.includes(fragment)) {
      throw new Error(`${JSON.stringify(fragment)} not in the message ${JSON.stringify(error.message)}`);
    }
  }
  return error;
}
