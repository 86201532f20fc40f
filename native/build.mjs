// Builds native/udp-batch.c (the DNS filter's batched UDP) with node-gyp, as `npm ci` and
// `npm run build:native` do. Optional: where it cannot be built (not Linux, no compiler), this
// says why and the DNS filter uses node:dgram, about half as fast.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

function nodeGyp() {
  // npm gives its own node-gyp to the scripts it runs; otherwise look for one beside npm.
  if (process.env.npm_config_node_gyp && existsSync(process.env.npm_config_node_gyp))
    return process.env.npm_config_node_gyp;
  const candidates = [
    join(
      dirname(process.execPath),
      '../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js',
    ),
  ];
  try {
    candidates.unshift(createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js'));
  } catch {
    // not installed as a package
  }
  return candidates.find((c) => existsSync(c)) ?? null;
}

function skip(why) {
  console.warn(
    `custos: the native module for batched DNS over UDP was not built (${why}); the DNS filter will use node:dgram. See docs/web-filter.md.`,
  );
  process.exit(0);
}

if (process.platform !== 'linux') skip(`batched UDP needs Linux, this is ${process.platform}`);
const gyp = nodeGyp();
if (gyp === null) skip('node-gyp was not found');
const args = [gyp, 'rebuild', `--directory=${here}`];
// Build against this Node's own headers where the machine has them (no download).
if (!process.env.npm_config_nodedir && existsSync('/usr/include/node/node_api.h'))
  args.push('--nodedir=/usr');
const result = spawnSync(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
if (result.status !== 0) {
  const said = String(result.stderr ?? '')
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.startsWith('gyp info'));
  console.warn(said.slice(-20).join('\n'));
  skip(`node-gyp exited with ${result.status ?? result.signal}`);
}
console.log('custos: built native/build/Release/udp_batch.node (batched DNS over UDP)');
