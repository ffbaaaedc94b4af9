// Shared helpers of the JavaScript SDK tests: running a real `shardlog serve`,
// making AWS SDK v3 clients for it, and bounded waits. Mirrors
// tests/clients/_support.py (Server) so both SDKs meet the server the same way.

import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync, accessSync, constants } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as delay } from "node:timers/promises";
import { CreateStreamCommand, DescribeStreamSummaryCommand, KinesisClient } from "@aws-sdk/client-kinesis";
import { FirehoseClient } from "@aws-sdk/client-firehose";
import { NodeHttp2Handler, NodeHttpHandler } from "@smithy/node-http-handler";

export const ACCOUNT_ID = "000000000000";
export const REGION = "us-east-1";
export const ACCESS_KEY = "AKIDEXAMPLE";
export const SECRET_KEY = "secret";

/** How long a server may take to print "listening on" and answer /health. */
export const START_TIMEOUT_MS = 30_000;
/** How long a server may take to exit after SIGTERM (its grace period is 10 s). */
export const STOP_TIMEOUT_MS = 20_000;
/** Timeout of one SDK request (connect + answer). */
const REQUEST_TIMEOUT_MS = 30_000;

export const SEQUENCE_NUMBER = /^[0-9]{56}$/;
export const SHARD_ID = /^shardId-[0-9]{12}$/;

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");

/** A stream, consumer or delivery stream name no other test uses. */
export function uniqueName(prefix = "s") {
  return `${prefix}-${randomUUID().replaceAll("-", "").slice(0, 12)}`;
}

/** The ARN shardlog gives the Kinesis stream `name`. */
export function streamArn(name) {
  return `arn:aws:kinesis:${REGION}:${ACCOUNT_ID}:stream/${name}`;
}

/**
 * Polls `predicate` (sync or async) until it returns something truthy, for at
 * most `timeoutMs`; returns that value or throws naming `what`.
 */
export async function waitUntil(predicate, timeoutMs, what, intervalMs = 50) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await predicate();
    if (value) return value;
    if (Date.now() >= deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await delay(intervalMs);
  }
}

/** Path of the `shardlog` binary under test: $SHARDLOG_BIN, else the cargo target dir. */
export function shardlogBin() {
  let path = process.env.SHARDLOG_BIN;
  if (!path) {
    const target = resolve(REPO_ROOT, process.env.CARGO_TARGET_DIR || "target");
    path = join(target, "debug", "shardlog");
  }
  try {
    accessSync(path, constants.X_OK);
  } catch {
    throw new Error(`no shardlog binary at ${path}: set SHARDLOG_BIN or run scripts/client-tests.sh`);
  }
  return path;
}

/** One `shardlog serve` process over its own temporary data directory. */
export class Server {
  constructor({ credentials = null, extraArgs = [] } = {}) {
    this.binary = shardlogBin();
    this.credentials = credentials;
    this.extraArgs = extraArgs;
    this.root = mkdtempSync(join(tmpdir(), "shardlog-js-"));
    this.dataDir = join(this.root, "data");
    this.stdoutPath = join(this.root, "stdout.log");
    this.stderrPath = join(this.root, "stderr.log");
    this.process = null;
    this.exitCode = null;
    this.exitSignal = null;
    this.url = null;
  }

  /** Starts the server and waits (bounded) until it listens and /health answers 200. */
  async start() {
    // Nothing from the caller's environment may change how the server runs
    // (e.g. SHARDLOG_CREDENTIALS turning authentication on).
    const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("SHARDLOG_")));
    env.RUST_LOG ??= "info";
    // Port 0: the kernel picks a free port, the server prints which.
    const args = ["serve", "--data-dir", this.dataDir, "--listen", "127.0.0.1:0"];
    if (this.credentials) args.push("--credentials", this.credentials);
    args.push(...this.extraArgs);
    const out = openSync(this.stdoutPath, "w");
    const err = openSync(this.stderrPath, "w");
    try {
      this.process = spawn(this.binary, args, { env, stdio: ["ignore", out, err] });
    } finally {
      closeSync(out);
      closeSync(err);
    }
    this.exited = new Promise((resolveExit) => {
      this.process.once("exit", (code, signal) => {
        this.exitCode = code;
        this.exitSignal = signal;
        resolveExit();
      });
    });
    try {
      this.url = await waitUntil(() => this.#listeningUrl(), START_TIMEOUT_MS, "the 'listening on' line");
      await waitUntil(() => this.#healthy(), START_TIMEOUT_MS, `GET ${this.url}/health to answer 200`);
    } catch (error) {
      await this.kill();
      throw error;
    }
    return this;
  }

  #checkAlive() {
    if (this.exitCode !== null || this.exitSignal !== null) {
      throw new Error(`shardlog serve exited (${this.exitCode ?? this.exitSignal}) before it was ready:\n${this.logs()}`);
    }
  }

  #listeningUrl() {
    this.#checkAlive();
    const match = /listening on (http:\/\/\S+)/.exec(readFileSync(this.stdoutPath, "utf8"));
    return match ? match[1] : null;
  }

  async #healthy() {
    this.#checkAlive();
    try {
      const response = await fetch(`${this.url}/health`, { signal: AbortSignal.timeout(2_000) });
      await response.arrayBuffer();
      return response.status === 200;
    } catch {
      return false;
    }
  }

  /** The tails of the server's stdout and stderr, for failure messages. */
  logs(tail = 4000) {
    const read = (path) => (existsSync(path) ? readFileSync(path, "utf8").slice(-tail) : "");
    return `--- stdout ---\n${read(this.stdoutPath)}\n--- stderr ---\n${read(this.stderrPath)}`;
  }

  /**
   * SIGTERM, then a bounded wait for the exit; throws when the server had
   * already exited (crashed), does not exit in time, or exits with a non-zero
   * code. Removes the temporary directory after a clean stop.
   */
  async stop() {
    if (this.process === null) return;
    if (this.exitCode !== null || this.exitSignal !== null) {
      throw new Error(`shardlog serve had already exited (${this.exitCode ?? this.exitSignal}) before teardown (crash?):\n${this.logs()}`);
    }
    this.process.kill("SIGTERM");
    const timedOut = Symbol("timeout");
    // An unref'd timer: the bound must not keep the test process alive.
    const outcome = await Promise.race([this.exited, delay(STOP_TIMEOUT_MS, timedOut, { ref: false })]);
    if (outcome === timedOut) {
      await this.kill();
      throw new Error(`shardlog serve did not exit within ${STOP_TIMEOUT_MS} ms of SIGTERM:\n${this.logs()}`);
    }
    if (this.exitCode !== 0) {
      throw new Error(`shardlog serve exited with ${this.exitCode ?? this.exitSignal} after SIGTERM:\n${this.logs()}`);
    }
    rmSync(this.root, { recursive: true, force: true });
  }

  /** SIGKILL and a bounded wait; for failures only. */
  async kill() {
    if (this.process !== null && this.exitCode === null && this.exitSignal === null) {
      this.process.kill("SIGKILL");
      // An unref'd timer: the bound must not keep the test process alive.
      await Promise.race([this.exited, delay(STOP_TIMEOUT_MS, undefined, { ref: false })]);
    }
  }
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
