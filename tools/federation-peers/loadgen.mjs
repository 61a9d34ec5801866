#!/usr/bin/env node
// Closed-loop HTTP load: node loadgen.mjs URL BODY_JSON_FILE CONCURRENCY SECONDS [HEADER=VALUE ...]
// Prints {"requests", "errors", "seconds", "p50_ms", "p99_ms", "sample"}: every response must be
// 200 without GraphQL errors, else it counts as an error; `sample` is the first response body.
import http from "node:http";
import { readFileSync } from "node:fs";

const [url, bodyPath, concurrency, seconds, ...headerArgs] = process.argv.slice(2);
const body = readFileSync(bodyPath);
const target = new URL(url);
const headers = { "content-type": "application/json", "content-length": body.length };
for (const h of headerArgs) {
  const i = h.indexOf("=");
  headers[h.slice(0, i)] = h.slice(i + 1);
}
const agent = new http.Agent({ keepAlive: true, maxSockets: Number(concurrency) });
const latencies = [];
let errors = 0;
let sample = null;
const deadline = performance.now() + Number(seconds) * 1000;

function once() {
  return new Promise((resolve) => {
    const started = performance.now();
    const req = http.request(
      { host: target.hostname, port: target.port, path: target.pathname, method: "POST", headers, agent },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          if (sample === null) sample = text;
          if (res.statusCode !== 200 || text.includes('"errors"')) errors += 1;
          latencies.push(performance.now() - started);
          resolve();
        });
      },
    );
    req.on("error", () => {
      errors += 1;
      resolve();
    });
    req.end(body);
  });
}

async function worker() {
  while (performance.now() < deadline) await once();
}

const begun = performance.now();
await Promise.all(Array.from({ length: Number(concurrency) }, worker));
const elapsed = (performance.now() - begun) / 1000;
latencies.sort((a, b) => a - b);
const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))];
process.stdout.write(JSON.stringify({
  requests: latencies.length, errors, seconds: elapsed, p50_ms: pct(50), p99_ms: pct(99), sample,
}) + "\n");
agent.destroy();
