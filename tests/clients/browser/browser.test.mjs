// Goal: the AWS SDK for JavaScript v3 Kinesis client, bundled for the browser and
// run by headless Chromium from another origin, writes and reads records through
// a real `shardlog serve`: CORS works end to end, preflights included.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createServer, request as httpRequest } from "node:http";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { chromium } from "playwright-core";
import { Server } from "../js/server.mjs";

const HERE = dirname(fileURLToPath(import.meta.url));
/** Debian's chromium package; the test never downloads a browser. */
const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
/** How long the page may take to run its whole scenario. */
const PAGE_TIMEOUT_MS = 60_000;
const ACCESS_KEY = "AKIDEXAMPLE";
const SECRET_KEY = "secret";
const INDEX_HTML = '<!doctype html>\n<meta charset="utf-8">\n<title>shardlog browser test</title>\n<script type="module" src="/page.js"></script>\n';

let server;
let pageServer;
let pageOrigin;
let userDataDir;
let context;

/** page.mjs with the SDK, bundled for the browser in memory. */
async function bundlePage() {
  const result = await build({
    entryPoints: [join(HERE, "page.mjs")],
    bundle: true,
    platform: "browser",
    format: "esm",
    target: "es2022",
    write: false,
    logLevel: "error",
  });
  return result.outputFiles[0].contents;
}

/** A static server for the page on its own port: an origin other than the shardlog server's. */
async function servePage(bundle) {
  const files = {
    "/": { type: "text/html; charset=utf-8", body: INDEX_HTML },
    "/page.js": { type: "text/javascript; charset=utf-8", body: bundle },
  };
  const http = createServer((request, response) => {
    const file = files[new URL(request.url, "http://page").pathname];
    if (request.method !== "GET" || file === undefined) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { "content-type": file.type }).end(file.body);
  });
  await listen(http);
  return http;
}

/** Listens on a free port of 127.0.0.1. */
async function listen(http) {
  await new Promise((resolve, reject) => {
    http.once("error", reject);
    http.listen(0, "127.0.0.1", resolve);
  });
}

/**
 * Records the CORS preflights `page` sends, with their answers. Playwright hides
 * preflights from its own request events; the DevTools protocol reports them.
 */
async function watchPreflights(context, page) {
  const preflights = new Map();
  const cdp = await context.newCDPSession(page);
  cdp.on("Network.requestWillBeSent", (event) => {
    if (event.initiator.type === "preflight") preflights.set(event.requestId, { request: event.request, response: null });
  });
  cdp.on("Network.responseReceived", (event) => {
    const preflight = preflights.get(event.requestId);
    if (preflight) preflight.response = event.response;
  });
  await cdp.send("Network.enable");
  return preflights;
}

/** Every preflight went to the server, asked for the signed headers and was allowed. */
function checkPreflights(preflights, serverOrigin) {
  assert.ok(preflights.size >= 1, "no CORS preflight was sent: the requests were not cross-origin");
  for (const { request, response } of preflights.values()) {
    assert.equal(request.method, "OPTIONS");
    assert.equal(new URL(request.url).origin, serverOrigin);
    const lower = Object.fromEntries(Object.entries(request.headers).map(([key, value]) => [key.toLowerCase(), value]));
    assert.equal(lower["access-control-request-method"], "POST");
    const asked = lower["access-control-request-headers"].split(",");
    for (const header of ["authorization", "content-type", "x-amz-date", "x-amz-target"]) {
      assert.ok(asked.includes(header), `${header} not in the preflight's ${asked}`);
    }
    assert.ok(response, `no answer to the preflight of ${request.url}`);
    assert.equal(response.status, 200);
  }
}

/**
 * A proxy on its own port in front of `upstream` that drops the response
 * headers `dropped(name)` selects; returns { url, methods, close }, `methods`
 * being the methods of the requests that reached it.
 */
async function stripProxy(upstream, dropped) {
  const target = new URL(upstream);
  const methods = [];
  const proxy = createServer((request, response) => {
    methods.push(request.method);
    // The Host header goes through unchanged: the SigV4 signature covers it.
    const forward = httpRequest(
      { host: target.hostname, port: target.port, method: request.method, path: request.url, headers: request.headers },
      (answer) => {
        const headers = Object.fromEntries(Object.entries(answer.headers).filter(([name]) => !dropped(name)));
        response.writeHead(answer.statusCode, headers);
        answer.pipe(response);
      },
    );
    forward.on("error", (error) => response.destroy(error));
    request.pipe(forward);
  });
  await listen(proxy);
  return {
    url: `http://127.0.0.1:${proxy.address().port}`,
    methods,
    close: () => new Promise((resolve) => proxy.close(resolve)),
  };
}

/**
 * Opens the page against `endpoint` and returns what it set as its result, with
 * the POSTs it sent to `endpoint` and the preflights the browser sent first.
 */
async function runPage(endpoint) {
  const endpointOrigin = new URL(endpoint).origin;
  const page = await context.newPage();
  try {
    const pageErrors = [];
    page.on("pageerror", (error) => pageErrors.push(String(error)));
    page.on("console", (message) => message.type() === "error" && pageErrors.push(message.text()));
    const preflights = await watchPreflights(context, page);
    const posts = [];
    page.on("request", (request) => {
      if (request.method() === "POST" && request.url().startsWith(endpointOrigin)) posts.push(request);
    });
    const query = new URLSearchParams({ endpoint, accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY });
    await page.goto(`${pageOrigin}/?${query}`);
    await page.waitForFunction(() => window.shardlogResult !== undefined, null, { timeout: PAGE_TIMEOUT_MS });
    const result = await page.evaluate(() => window.shardlogResult);
    const postHeaders = await Promise.all(posts.map((post) => post.allHeaders()));
    return { result, postHeaders, preflights, pageErrors };
  } finally {
    await page.close();
  }
}

before(async () => {
  // With credentials: the server checks every signature the browser computes.
  server = await new Server({ credentials: `${ACCESS_KEY}:${SECRET_KEY}` }).start();
  pageServer = await servePage(await bundlePage());
  pageOrigin = `http://127.0.0.1:${pageServer.address().port}`;
  userDataDir = mkdtempSync(join(tmpdir(), "shardlog-chromium-"));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_FLAGS,
  });
});

after(async () => {
  await context?.close();
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  await new Promise((resolve) => (pageServer ? pageServer.close(resolve) : resolve()));
  await server?.stop();
});

test("the browser test pins the SDK version the Node tests use", () => {
  // Goal: both JavaScript suites test the same @aws-sdk/client-kinesis release.
  const pinned = (folder) =>
    JSON.parse(readFileSync(join(HERE, "..", folder, "package.json"), "utf8")).dependencies["@aws-sdk/client-kinesis"];
  assert.equal(pinned("browser"), pinned("js"));
});

test("Chromium on another origin puts and reads records through CORS", async () => {
  // Goal: the page's PutRecord/PutRecords/GetRecords round trip and typed error pass, over signed, preflighted cross-origin requests.
  const serverOrigin = new URL(server.url).origin;
  assert.notEqual(serverOrigin, pageOrigin);
  const { result, postHeaders, preflights, pageErrors } = await runPage(server.url);
  assert.ok(result.ok, `the page failed: ${result.error}\npage errors: ${pageErrors.join("\n")}\n${server.logs()}`);
  assert.equal(result.recordsRead, 4);
  // At least CreateStream, DescribeStreamSummary, PutRecord, PutRecords, GetShardIterator, GetRecords and the error.
  assert.ok(postHeaders.length >= 7, `${postHeaders.length} POSTs went to the server`);
  for (const headers of postHeaders) {
    assert.equal(headers.origin, pageOrigin);
    assert.match(headers.authorization, /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\//);
  }
  checkPreflights(preflights, serverOrigin);
});

test("without CORS headers the browser blocks the same page", async () => {
  // Goal: the test can fail: through a proxy that drops every Access-Control-* header, Chromium refuses the SDK's requests.
  const proxy = await stripProxy(server.url, (name) => name.startsWith("access-control-"));
  try {
    const { result } = await runPage(proxy.url);
    assert.equal(result.ok, false, "the page passed without CORS headers");
    assert.match(result.error, /Failed to fetch/);
    // The browser asked, was refused, and never sent the request itself.
    assert.deepEqual(proxy.methods, ["OPTIONS"]);
  } finally {
    await proxy.close();
  }
});

test("without exposed headers the page cannot see the request ids", async () => {
  // Goal: Access-Control-Expose-Headers matters: without it the typed error reaches the page but x-amzn-RequestId does not.
  const proxy = await stripProxy(server.url, (name) => name === "access-control-expose-headers");
  try {
    const { result } = await runPage(proxy.url);
    assert.equal(result.ok, false, "the page passed without Access-Control-Expose-Headers");
    assert.match(result.error, /no x-amzn-RequestId visible to the page/);
  } finally {
    await proxy.close();
  }
});
