// A fan-out worker: gets its data either as a shmkit handle (attach, no copy)
// or as the data itself over IPC, sums its quarter, and reports back.
'use strict';
const { SharedMemory } = require('../..');

process.on('message', (m) => {
  let data;
  let seg;
  if (m.op === 'attach') {
    seg = SharedMemory.attach(m.handle, { readonly: true });
    data = new Float64Array(seg.buffer);
  } else if (m.op === 'data') {
    data = m.data; // 'advanced': a Float64Array copy; 'json': a plain array
  } else if (m.op === 'exit') {
    process.exit(0);
  }
  process.send({ have: true }); // the data is usable here: the handoff is over
  let sum = 0;
  for (let i = m.from; i < m.to; i++) sum += data[i];
  process.send({ sum });
  // Keep the data alive until told to exit, so PSS sampling sees the real footprint.
  globalThis.keep = { data, seg };
});
process.send('ready');
