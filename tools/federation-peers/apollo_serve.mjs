#!/usr/bin/env node
// One @apollo/gateway over HTTP for the benchmarks: node apollo_serve.mjs SUPERGRAPH PORT
import { readFileSync } from "node:fs";
import { ApolloGateway } from "@apollo/gateway";
import { ApolloServer } from "@apollo/server";
import { startStandaloneServer } from "@apollo/server/standalone";

const [supergraphPath, port] = process.argv.slice(2);
const silent = { debug() {}, info() {}, warn() {}, error() {} };
const gateway = new ApolloGateway({ supergraphSdl: readFileSync(supergraphPath, "utf8"), logger: silent });
const server = new ApolloServer({ gateway, logger: silent });
const { url } = await startStandaloneServer(server, { listen: { port: Number(port), host: "127.0.0.1" } });
process.stdout.write(`ready ${url}\n`);
