// Builds the prebuilt (federated) extension into teamhub/labextension with @jupyter/builder.
//
// Why not `jupyter labextension build`: without a core package file it looks up JupyterLab's
// core metadata over the network. @jupyter/builder depends on @jupyterlab/core-meta, so the
// metadata is already in node_modules: we hand it over and the build works offline.
// Pass --development for an unminified build with source maps.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const require = createRequire(path.join(here, 'package.json'));
const builder = path.join(
  path.dirname(require.resolve('@jupyter/builder/package.json')),
  'lib',
  'build-labextension.js'
);
const coreMeta = path.join(
  path.dirname(require.resolve('@jupyterlab/core-meta/package.json')),
  'core.package.json'
);
const args = [builder, '--core-package-file', coreMeta, ...process.argv.slice(2), here];
const result = spawnSync(process.execPath, args, { stdio: 'inherit' });
process.exit(result.status ?? 1);
