#!/usr/bin/env node
// Subgraphs for the gateway benchmarks (benchmarks/gateway_peers.py) that are never the
// bottleneck: each request is executed once by graphql-js over canned data, and every later
// request with the same body gets the same bytes back from a cache.
//
// Usage: node canned_subgraphs.mjs CONFIG.json PORT
//   CONFIG: {"subgraphs": {name: {"sdl", "root": {...}, "entities": {Type: [records]}}}}
//   serves POST /<name>; GET /stats -> {"requests": n, "executed": n}

import http from "node:http";
import { readFileSync } from "node:fs";
import { buildSchema, graphql } from "graphql";

const [configPath, port] = process.argv.slice(2);
const config = JSON.parse(readFileSync(configPath, "utf8"));

const MACHINERY = `
scalar _Any
scalar FieldSet
scalar link__Import
enum link__Purpose { SECURITY EXECUTION }
directive @link(url: String!, as: String, import: [link__Import], for: link__Purpose) repeatable on SCHEMA
directive @key(fields: FieldSet!, resolvable: Boolean = true) repeatable on OBJECT | INTERFACE
directive @requires(fields: FieldSet!) on FIELD_DEFINITION
directive @provides(fields: FieldSet!) on FIELD_DEFINITION
directive @external(reason: String) on OBJECT | FIELD_DEFINITION
directive @shareable repeatable on OBJECT | FIELD_DEFINITION
type _Service { sdl: String }
`;

function matches(record, probe) {
  const shared = Object.keys(probe).filter((k) => k !== "__typename" && k in record);
  return shared.length > 0 && shared.every((k) => JSON.stringify(record[k]) === JSON.stringify(probe[k]));
}

const subgraphs = new Map();
for (const [name, sub] of Object.entries(config.subgraphs)) {
  const entityTypes = [...sub.sdl.matchAll(/type\s+(\w+)\s+@key/g)].map((m) => m[1]);
  const hasQuery = /^\s*type\s+Query\b/m.test(sub.sdl);
  let extra = MACHINERY + `${hasQuery ? "extend type Query" : "type Query"} { _service: _Service!`;
  if (entityTypes.length) {
    extra = `union _Entity = ${entityTypes.join(" | ")}\n` + extra + " _entities(representations: [_Any!]!): [_Entity]!";
  }
  extra += " }\n";
  const schema = buildSchema(sub.sdl + "\n" + extra);
  const entities = sub.entities || {};
  const index = new Map(); // "Type:key-json" -> record, for the usual single-field keys
  const complete = (value) => {
    if (Array.isArray(value)) return value.map(complete);
    if (value && typeof value === "object" && value.__typename) {
      const found = (entities[value.__typename] || []).find((r) => matches(r, value));
      return found ? { ...value, ...found } : value;
    }
    return value;
  };
  const fieldResolver = (parent, args, _ctx, info) => {
    if (info.parentType.name === "Query" && info.fieldName === "_entities") {
      return args.representations.map((rep) => {
        const found = (entities[rep.__typename] || []).find((r) => matches(r, rep));
        return found ? { ...rep, ...found } : null;
      });
    }
    const source = parent ?? sub.root ?? {};
    const value = source[info.fieldName];
    if (typeof value === "object" && value && value.__args) {
      // {"__args": {"first": "slice"}} : list fields that take `first`
      return complete(value.items.slice(0, args.first ?? value.items.length));
    }
    return complete(value);
  };
  const typeResolver = (value) => value.__typename;
  subgraphs.set(name, { schema, fieldResolver, typeResolver, index });
}

const cache = new Map();
let requests = 0;
let executed = 0;

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", async () => {
    if (req.method === "GET" && req.url === "/stats") {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ requests, executed }));
      return;
    }
    requests += 1;
    const name = req.url.slice(1).split("?")[0];
    const body = Buffer.concat(chunks).toString("utf8");
    const key = `${name}\n${body}`;
    let out = cache.get(key);
    if (out === undefined) {
      const sub = subgraphs.get(name);
      if (!sub) {
        res.writeHead(404).end("no such subgraph");
        return;
      }
      executed += 1;
      const request = JSON.parse(body);
      const result = await graphql({
        schema: sub.schema,
        source: request.query,
        variableValues: request.variables,
        operationName: request.operationName,
        fieldResolver: sub.fieldResolver,
        typeResolver: sub.typeResolver,
      });
      out = Buffer.from(JSON.stringify(result));
      cache.set(key, out);
    }
    res.writeHead(200, { "content-type": "application/json", "content-length": out.length });
    res.end(out);
  });
});
server.keepAliveTimeout = 60000;
server.listen(Number(port), "127.0.0.1");
