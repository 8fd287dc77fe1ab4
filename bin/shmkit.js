#!/usr/bin/env node
// The `shmkit` command (npx shmkit ls | inspect | rm | sweep); see lib/cli.ts.
'use strict';
process.exitCode = require('../dist/cli.js').main(process.argv.slice(2));
