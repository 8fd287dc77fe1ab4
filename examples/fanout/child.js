// A fan-out worker: gets its data either as a shmkit handle (attach, no copy)
// or as the data itself over IPC, says it has it, then on 'sum' sums its
// quarter and reports back.
'use strict';
const { SharedMemory } = require('../..');

let data;
let seg;
let range;
process.on('message', (m) => {
  if (m.op === 'attach') {
    seg = SharedMemory.attach(m.handle, { readonly: true });
    data = new Float64Array(seg.buffer);
  } else if (m.op === 'data') {
    data = m.data; // 'advanced': a Float64Array copy; 'json': a plain array
  } else if (m.op === 'sum') {
    let sum = 0;
    for (let i = range.from; i < range.to; i++) sum += data[i];
    // The round is over once the sum is sent: let go of the segment then,
    // outside the timed handoff (tearing down the pages this child touched
    // takes ms). Left to the GC, a SharedArrayBuffer would stay mapped for
    // long: V8 does not count it as memory, so nothing hurries a collection.
    process.send({ sum }, () => {
      seg?.close();
      seg = undefined;
    });
    return;
  } else if (m.op === 'exit') {
    process.exit(0);
  }
  // The data is usable here: the handoff is over. Data stay alive until the
  // next round, so PSS sampling sees the real footprint.
  range = { from: m.from, to: m.to };
  process.send({ have: true });
});
process.send('ready');
