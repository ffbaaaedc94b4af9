// Running a real `shardlog serve` for the JavaScript tests (the Node SDK tests
// here and the browser test in ../browser) and bounded waits. Only Node's own
// modules: the browser test imports it without this folder's node_modules.
// Mirrors tests/clients/_support.py (Server) so every client meets the server
// the same way.

import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync, accessSync, constants } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as delay } from "node:timers/promises";

/** How long a server may take to print "listening on" and answer /health. */
export const START_TIMEOUT_MS = 30_000;
/** How long a server may take to exit after SIGTERM (its grace period is 10 s). */
export const STOP_TIMEOUT_MS = 20_000;

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");

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
