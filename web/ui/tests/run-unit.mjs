// Bundles tests/unit.test.ts with esbuild and runs it with node's test runner.
import * as esbuild from 'esbuild';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';

const here = dirname(fileURLToPath(import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'vigil-ui-unit-'));
try {
  const out = join(dir, 'unit.test.mjs');
  await esbuild.build({ entryPoints: [join(here, 'unit.test.ts')], bundle: true, platform: 'node', format: 'esm', outfile: out, logLevel: 'warning' });
  const r = spawnSync(process.execPath, ['--test', '--test-reporter=spec', out], { stdio: 'inherit' });
  process.exitCode = r.status ?? 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
