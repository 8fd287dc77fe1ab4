'use strict';
// Jazzer.js target (scripts/fuzz.sh): the table header parser of dist/ (run
// `npm run build` first), instrumented for coverage as Jazzer loads it.
const { parseHeader } = require('../dist/table/header');
const { rowRegions, regionBytes } = require('../dist/table/layout');
const { ShmError } = require('../dist/errors');
const { checkHeaderInput } = require('./header-check.cjs');

const api = { parseHeader, ShmError, rowRegions, regionBytes };

/** @param {Buffer} data */
module.exports.fuzz = function fuzz(data) {
  checkHeaderInput(data, api);
};
