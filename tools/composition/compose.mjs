#!/usr/bin/env node
// Composes Federation v2 subgraph SDL files into the supergraph SDL with Apollo's own
// composition library, so that the supergraph our Python gateway loads is byte-for-byte what
// Apollo Router or Hive Gateway would load (DESIGN.md: the gateway must stay replaceable).
//
// Usage: node compose.mjs name=url=path [name=url=path ...]
//   stdout: the supergraph SDL
//   stderr: composition hints (informational) and, on failure, the errors
//   exit:   0 on success, 1 on composition errors, 2 on bad arguments or unreadable files

import { readFileSync } from "node:fs";
// @apollo/composition is CommonJS: take its exports from the default import.
import composition from "@apollo/composition";
import { parse } from "graphql";

const { composeServices } = composition;

function usage(message) {
  process.stderr.write(`${message}\nusage: node compose.mjs name=url=path [name=url=path ...]\n`);
  process.exit(2);
}

function parseArgument(argument) {
  // Split on the first and the last "=" only: URLs may contain "=" in their query string.
  const first = argument.indexOf("=");
  const last = argument.lastIndexOf("=");
  if (first <= 0 || last === first || last === argument.length - 1) {
    usage(`bad argument ${JSON.stringify(argument)}: expected name=url=path`);
  }
  return {
    name: argument.slice(0, first),
    url: argument.slice(first + 1, last),
    path: argument.slice(last + 1),
  };
}

function loadService({ name, url, path }) {
  let sdl;
  try {
    sdl = readFileSync(path, "utf8");
  } catch (error) {
    usage(`cannot read the SDL of subgraph ${name} at ${path}: ${error.message}`);
  }
  try {
    return { name, url, typeDefs: parse(sdl) };
  } catch (error) {
    process.stderr.write(`subgraph ${name} (${path}): syntax error: ${error.message}\n`);
    process.exit(1);
  }
}

const argv = process.argv.slice(2);
if (argv.length === 0) {
  usage("no subgraphs given");
}
const services = argv.map(parseArgument).map(loadService);
const result = composeServices(services);

if (result.errors) {
  for (const error of result.errors) {
    const code = error.extensions?.code ? `[${error.extensions.code}] ` : "";
    process.stderr.write(`composition error: ${code}${error.message}\n`);
  }
  process.exit(1);
}
for (const hint of result.hints ?? []) {
  process.stderr.write(`hint: [${hint.definition.code}] ${hint.message}\n`);
}
process.stdout.write(result.supergraphSdl.endsWith("\n") ? result.supergraphSdl : `${result.supergraphSdl}\n`);
