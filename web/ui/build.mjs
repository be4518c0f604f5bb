// Builds the UI bundle into static/ (or $OUTDIR): app.js, app.css, index.html.
// Deterministic: the same sources and package-lock.json give the same bytes (make ui-check).
import * as esbuild from 'esbuild';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = process.env.OUTDIR || join(here, 'static');
mkdirSync(out, { recursive: true });
await esbuild.build({
  entryPoints: { app: join(here, 'src/main.tsx') },
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['es2020'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  outdir: out,
  legalComments: 'none',
  sourcemap: false,
  logLevel: 'warning',
  absWorkingDir: here,
});
copyFileSync(join(here, 'src/index.html'), join(out, 'index.html'));
