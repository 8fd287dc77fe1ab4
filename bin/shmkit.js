#!/usr/bin/env node
// The `shmkit` command (npx shmkit ls | inspect | rm | sweep | df); see lib/cli/index.ts.
'use strict';
process.exitCode = require('../dist/cli/index.js').main(process.argv.slice(2));
