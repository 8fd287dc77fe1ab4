// A forked worker of the DataFrame demo: forkMap attached it to the table;
// each task is a row range, computed over the table's Arrow view (no copy).
'use strict';
const { defineWorker } = require('../..');
const { work } = require('./frame');

let arrow;
defineWorker(({ input, start, end }) => {
  arrow ??= input.toArrow(); // the table is complete before the workers start
  return work(arrow, start, end);
});
