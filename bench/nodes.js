// The Node binaries a cross-version benchmark runs its children with: this
// one, then the majors in SHMKIT_BENCH_NODES (default "22,24,26"; "" for none),
// each found through npx's cache (`npx -y node@24 -p process.execPath`, no
// download when cached). One native build of the addon serves them all.
'use strict';
const { execFileSync } = require('node:child_process');

function probe(execPath) {
  const script = `const { SharedMemory, MAX_SIZE } = require(${JSON.stringify(require.resolve('..'))});
    console.log(JSON.stringify({ version: process.version, kind: SharedMemory.bufferKind, maxSize: MAX_SIZE, execPath: process.execPath }));`;
  return JSON.parse(execFileSync(execPath, ['-e', script], { encoding: 'utf8' }));
}

/** [{ version, kind, maxSize, execPath }], this Node first; majors that npx cannot give are left out (with a warning). */
function nodes(majors = process.env.SHMKIT_BENCH_NODES ?? '22,24,26') {
  const out = [probe(process.execPath)];
  for (const major of majors.split(',').map((s) => s.trim()).filter(Boolean)) {
    try {
      const execPath = execFileSync('npx', ['-y', `node@${major}`, '-p', 'process.execPath'], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      }).trim();
      const n = probe(execPath);
      if (!out.some((o) => o.version === n.version)) out.push(n);
    } catch (err) {
      process.stderr.write(`node@${major} unavailable, left out: ${err.message.split('\n')[0]}\n`);
    }
  }
  return out;
}

module.exports = { nodes };
