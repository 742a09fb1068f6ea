import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(join(root, dir)).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(join(root, path)).isDirectory()) return sources(path);
    return /\.tsx?$/.test(name) ? [path] : [];
  });
}

const importsOf = (file: string) =>
  [
    ...readFileSync(join(root, file), 'utf8').matchAll(
      /^\s*(?:import|export)[^'"]*from\s+'([^']+)'/gm,
    ),
  ].map((match) => match[1]!);

/** zod/mini and its English messages (core/zod.ts): full zod would weigh down every browser chunk. */
const zodModules = new Set(['zod/mini', 'zod/v4/locales/en.js']);

describe('the layers (docs/architecture.md, "Layers")', () => {
  it('core/ imports nothing but core/ and zod/mini: no Comlink, DOM, IndexedDB or Node', () => {
    const offending = sources('core').flatMap((file) =>
      importsOf(file)
        .filter((spec) => !spec.startsWith('.') && !zodModules.has(spec))
        .map((spec) => `${file}: ${spec}`),
    );
    expect(offending).toEqual([]);
    const outside = sources('core').flatMap((file) =>
      importsOf(file)
        .filter((spec) => spec.startsWith('.'))
        .filter((spec) => !relative(root, join(root, file, '..', spec)).startsWith('core'))
        .map((spec) => `${file}: ${spec}`),
    );
    expect(outside).toEqual([]);
  });

  it('the browser’s code never imports full zod, only zod/mini (the server may)', () => {
    const offending = ['core', 'app', 'worker', 'browser'].flatMap((dir) =>
      sources(dir).flatMap((file) =>
        importsOf(file)
          .filter((spec) => spec === 'zod' || (spec.startsWith('zod/') && !zodModules.has(spec)))
          .map((spec) => `${file}: ${spec}`),
      ),
    );
    expect(offending).toEqual([]);
  });

  it('outside its folder, only the list of models, the UI and tests import a model', () => {
    const offending = ['core', 'worker', 'server', 'browser'].flatMap((dir) =>
      sources(dir)
        .filter((file) => !file.startsWith('core/models/'))
        .flatMap((file) =>
          importsOf(file)
            .filter((spec) => /models\/(counter|board)\//.test(spec))
            .map((spec) => `${file}: ${spec}`),
        ),
    );
    expect(offending).toEqual([]);
  });

  it('app/, worker/ and server/ never import each other', () => {
    const offending = ['app', 'worker', 'server'].flatMap((dir) =>
      sources(dir).flatMap((file) =>
        importsOf(file)
          .filter((spec) => spec.startsWith('.'))
          .map((spec) => relative(root, join(root, file, '..', spec)).split('/')[0])
          .filter(
            (top) => top !== dir && top !== 'core' && !(top === 'browser' && dir !== 'server'),
          )
          .map((top) => `${file}: ${top}`),
      ),
    );
    expect(offending).toEqual([]);
  });
});
