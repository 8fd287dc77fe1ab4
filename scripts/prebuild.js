#!/usr/bin/env node
/**
 * `npm run prebuilds`: the prebuilt binaries that `npm pack` ships, for this
 * machine's platform and CPU (linux-x64 with glibc is the one we publish):
 *
 *   prebuilds/<platform>-<arch>/shmkit.<libc>.node   the addon (prebuildify --napi --tag-libc --strip)
 *   prebuilds/<platform>-<arch>/shmkit-tracker       the tracker executable (native/tracker.c)
 *
 * N-API 8, so one addon serves every Node ≥ 18. node-gyp-build picks the
 * addon at install (no compile when one fits) and at load (lib/binding.ts);
 * the tracker is looked for next to whichever addon was chosen.
 *
 * The build runs in a scratch copy of binding.gyp and native/, so this
 * checkout's build/ (the addon the tests load) is never cleaned or replaced
 * while something may be using it. Run it through npm: npm puts its own
 * node-gyp on PATH and passes its nodedir setting.
 */
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const prebuildify = require('prebuildify');

const ROOT = path.join(__dirname, '..');
const TARGET = `${os.platform()}-${os.arch()}`;

function main() {
  if (os.platform() !== 'linux') throw new Error(`shmkit runs on Linux only; cannot prebuild on ${os.platform()}`);
  const out = path.join(ROOT, 'prebuilds', TARGET);
  fs.rmSync(out, { recursive: true, force: true }); // nothing stale beside the new pair

  const stage = fs.mkdtempSync(path.join(os.tmpdir(), 'shmkit-prebuild-'));
  const done = (err) => {
    fs.rmSync(stage, { recursive: true, force: true });
    if (err) {
      console.error(`prebuild failed: ${err.message}`);
      process.exit(1);
    }
  };
  try {
    fs.copyFileSync(path.join(ROOT, 'binding.gyp'), path.join(stage, 'binding.gyp'));
    fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(stage, 'package.json'));
    fs.cpSync(path.join(ROOT, 'native'), path.join(stage, 'native'), { recursive: true });
    // binding.gyp asks node for node-addon-api's include dir from the stage.
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(stage, 'node_modules'), 'dir');
  } catch (err) {
    return done(err);
  }

  prebuildify({ cwd: stage, out: ROOT, napi: true, tagLibc: true, strip: true }, (err) => {
    if (err) return done(err);
    try {
      const tracker = path.join(out, 'shmkit-tracker');
      fs.copyFileSync(path.join(stage, 'build', 'Release', 'shmkit-tracker'), tracker);
      execFileSync(process.env.PREBUILD_STRIP_BIN || 'strip', ['--strip-all', tracker]);
      fs.chmodSync(tracker, 0o755);
      for (const f of fs.readdirSync(out)) {
        console.log(`${path.relative(ROOT, path.join(out, f))}  ${fs.statSync(path.join(out, f)).size} bytes`);
      }
      done();
    } catch (e) {
      done(e);
    }
  });
}

main();
