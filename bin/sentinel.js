#!/usr/bin/env node
// The `sentinel` command: the compiled CLI when built (npm run build), the TypeScript source otherwise,
// or always with SENTINEL_CLI_FROM_SOURCE=1 (the test suite: a dist/ left by an earlier build is not what it tests).
const fs = require('node:fs');
const path = require('node:path');

const built = path.join(__dirname, '..', 'dist', 'cli', 'cli.js');
const entry =
  fs.existsSync(built) && process.env.SENTINEL_CLI_FROM_SOURCE !== '1'
    ? built
    : path.join(__dirname, '..', 'src', 'cli', 'cli.ts');
if (entry.endsWith('.ts')) require('tsx/cjs');
require(entry)
  .main(process.argv)
  .then((code) => {
    process.exitCode = code;
  });
