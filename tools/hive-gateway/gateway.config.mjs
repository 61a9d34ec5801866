// Hive Gateway serving the suite's graph from the same schema registry our gateway follows:
// a drop-in alternative engine, and the proof that our subgraphs are standard Federation v2.
//
//   node_modules/.bin/hive-gateway supergraph -c gateway.config.mjs --port 4100
//
// Environment (the same names as our gateway's, so one set of settings serves both):
//   GATEWAY_REGISTRY_URL or MONGODB_URL   the registry's MongoDB (default mongodb://127.0.0.1:27017)
//   GATEWAY_REGISTRY_DATABASE             its database (default "registry")
//   GATEWAY_SUBGRAPH_URLS                 JSON {name: url} overriding the supergraph's URLs
//   HIVE_POLLING_SECONDS                  how often the registry is read (default and Hive's minimum: 10)
//   GATEWAY_SUPERGRAPH_PATH               a file to serve instead, when no registry is wanted
import { readFile } from 'node:fs/promises';

import { defineConfig } from '@graphql-hive/gateway';
import { MongoClient } from 'mongodb';

const registryUrl =
  process.env.GATEWAY_REGISTRY_URL ?? process.env.MONGODB_URL ?? 'mongodb://127.0.0.1:27017';
const registryDatabase = process.env.GATEWAY_REGISTRY_DATABASE ?? 'registry';
const subgraphUrls = JSON.parse(process.env.GATEWAY_SUBGRAPH_URLS ?? '{}');
const pollingSeconds = Number(process.env.HIVE_POLLING_SECONDS ?? '10');

let client;

// The newest version of the registry (its `versions` collection: `_id` is the version number,
// `supergraph` the composed SDL), exactly what our gateway serves.
async function latestFromRegistry() {
  client ??= new MongoClient(registryUrl, { serverSelectionTimeoutMS: 5000 });
  const version = await client
    .db(registryDatabase)
    .collection('versions')
    .findOne({}, { sort: { _id: -1 }, projection: { supergraph: 1 } });
  if (version === null) {
    throw new Error(`the registry ${registryDatabase} holds no version yet`);
  }
  return version.supergraph;
}

// `@join__graph(name: "customers", url: "...")`: point a subgraph elsewhere (a container's
// host name, a replica's load balancer) without recomposing, as GATEWAY_SUBGRAPH_URLS does
// for our gateway.
function withSubgraphUrls(supergraph) {
  return supergraph.replace(
    /@join__graph\(name:\s*"([^"]+)",\s*url:\s*"[^"]*"\)/g,
    (directive, name) =>
      name in subgraphUrls ? `@join__graph(name: "${name}", url: "${subgraphUrls[name]}")` : directive,
  );
}

async function supergraph() {
  const path = process.env.GATEWAY_SUPERGRAPH_PATH;
  const sdl = path ? await readFile(path, 'utf8') : await latestFromRegistry();
  return withSubgraphUrls(sdl);
}

export const gatewayConfig = defineConfig({
  supergraph,
  pollingInterval: pollingSeconds * 1000,
  // Subgraphs verify the caller's token themselves, and keep the trace and request ids.
  propagateHeaders: {
    fromClientToSubgraphs({ request }) {
      const headers = {};
      for (const name of ['authorization', 'traceparent', 'tracestate', 'x-request-id', 'idempotency-key']) {
        const value = request.headers.get(name);
        if (value !== null) headers[name] = value;
      }
      return headers;
    },
  },
});
