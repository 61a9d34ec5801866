#!/usr/bin/env node
// Hosts many @apollo/gateway instances in one Node process, for the differential tests of
// our Python gateway (tests/gateway/test_gateway_differential.py).
//
// Usage: node apollo_host.mjs CONFIG.json OUT.json
//   CONFIG: {"corpora": [{"name", "subgraphs": [{"name", "url", "sdl"}]}]}
//   Composes every corpus with @apollo/composition, writes
//   OUT: {"port", "supergraphs": {name: sdl}, "errors": {name: [message]}}
//   then serves POST /<corpus> {query, variables, operationName}
//   -> {"response": <GraphQL response>, "plan": <Apollo's query plan>, "fetches": <count>}

import http from "node:http";
import { readFileSync, writeFileSync } from "node:fs";
import composition from "@apollo/composition";
import { ApolloGateway } from "@apollo/gateway";
import { ApolloServer } from "@apollo/server";
import { parse } from "graphql";

const { composeServices } = composition;
const [configPath, outPath] = process.argv.slice(2);
const config = JSON.parse(readFileSync(configPath, "utf8"));

const silent = { debug() {}, info() {}, warn() {}, error() {} };
const servers = new Map();
const supergraphs = {};
const errors = {};
// Requests are answered one at a time (the tests are sequential): the plan of the last one.
let lastPlan = null;

function countFetches(node) {
  if (!node) return 0;
  switch (node.kind) {
    case "Fetch":
      return 1;
    case "Flatten":
      return countFetches(node.node);
    case "Sequence":
    case "Parallel":
      return node.nodes.reduce((n, child) => n + countFetches(child), 0);
    case "Condition":
      return countFetches(node.ifClause) + countFetches(node.elseClause);
    case "Subscription":
      return countFetches(node.primary) + countFetches(node.rest);
    case "Defer":
      return countFetches(node.primary?.node) +
        node.deferred.reduce((n, d) => n + countFetches(d.node), 0);
    default:
      throw new Error(`unknown plan node ${node.kind}`);
  }
}

for (const corpus of config.corpora) {
  const result = composeServices(
    corpus.subgraphs.map((s) => ({ name: s.name, url: s.url, typeDefs: parse(s.sdl) })),
  );
  if (result.errors) {
    errors[corpus.name] = result.errors.map((e) => e.message);
    continue;
  }
  supergraphs[corpus.name] = result.supergraphSdl;
  const gateway = new ApolloGateway({
    supergraphSdl: result.supergraphSdl,
    logger: silent,
    experimental_didResolveQueryPlan: ({ queryPlan }) => {
      lastPlan = queryPlan;
    },
  });
  const server = new ApolloServer({ gateway, logger: silent, includeStacktraceInErrorResponses: false });
  await server.start();
  servers.set(corpus.name, server);
}

const httpServer = http.createServer(async (req, res) => {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const name = decodeURIComponent(req.url.slice(1));
  const server = servers.get(name);
  if (!server) {
    res.writeHead(404).end(JSON.stringify({ error: `no corpus ${name}` }));
    return;
  }
  try {
    const body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    const contextValue = {};
    lastPlan = null;
    const result = await server.executeOperation(
      { query: body.query, variables: body.variables ?? undefined, operationName: body.operationName ?? undefined },
      { contextValue },
    );
    const response = result.body.kind === "single" ? result.body.singleResult : { incremental: true };
    const plan = lastPlan;
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({
      response,
      plan: plan ? JSON.parse(JSON.stringify(plan.node ?? null)) : null,
      fetches: plan ? countFetches(plan.node) : null,
    }));
  } catch (error) {
    res.writeHead(500).end(JSON.stringify({ error: String(error && error.stack) }));
  }
});

httpServer.listen(0, "127.0.0.1", () => {
  const { port } = httpServer.address();
  writeFileSync(outPath, JSON.stringify({ port, supergraphs, errors }));
});
