import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(join(root, dir)).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(join(root, path)).isDirectory()) return sources(path);
    return /\.(?:[cm]?[jt]s|tsx)$/.test(name) ? [path] : [];
  });
}

/**
 * Every module `source` imports: `import … from`, `export … from`, a side-effect `import 'x'` and
 * a dynamic `import('x')` of a literal, in either quotes.
 */
function importsIn(source: string): string[] {
  const forms = [
    /^\s*(?:import|export)\s+(?:type\s+)?[\w$*\s,]*(?:\{[^}]*\})?[\w$\s,]*from\s*(['"])([^'"]+)\1/gm,
    /^\s*import\s*(['"])([^'"]+)\1/gm,
    /\bimport\s*\(\s*(['"`])([^'"`]+)\1\s*\)/g,
  ];
  return forms.flatMap((form) => [...source.matchAll(form)].map((match) => match[2]!));
}

const importsOf = (file: string) => importsIn(readFileSync(join(root, file), 'utf8'));

/** The model folder `path` (relative to the root) is in, if any: `core/models/counter/x.ts` → `counter`. */
const modelFolderOf = (path: string) => /^core\/models\/([^/]+)\//.exec(path)?.[1];

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

  it('reads every form of import', () => {
    const source = [
      "import { a } from './a.ts';",
      'import type { B } from "./b.ts";',
      "import c, {\n  d,\n  type E,\n} from '../c.ts';",
      "import * as f from './f.ts';",
      "export { g } from './g.ts';",
      'export * from "./h.ts";',
      "import './i.css';",
      'import "./j.ts";',
      "const k = await import('./k.ts');",
      'type L = typeof import("./l.ts");',
      // Not imports: a dynamic import of a variable, a word in a comment.
      'void import(engine);',
      '// we import what we need from the list',
    ].join('\n');
    expect(importsIn(source).sort()).toEqual(
      ['../c.ts', './a.ts', './b.ts', './f.ts', './g.ts', './h.ts', './i.css', './j.ts']
        .concat(['./k.ts', './l.ts'])
        .sort(),
    );
  });

  it('outside its folder, only the list of models, the UI and tests import a model', () => {
    const offending = ['core', 'worker', 'server', 'browser', 'bench', 'scripts'].flatMap((dir) =>
      sources(dir)
        .filter((file) => !file.startsWith('core/models/'))
        .flatMap((file) =>
          importsOf(file)
            .filter((spec) => /models\/(?!index\.ts$)[^/]+\//.test(spec))
            .map((spec) => `${file}: ${spec}`),
        ),
    );
    expect(offending).toEqual([]);
  });

  it('a model’s folder imports no other model’s: what joins two is composed beside the list', () => {
    const offending = sources('core/models').flatMap((file) => {
      const own = modelFolderOf(file);
      if (own === undefined) return [];
      return importsOf(file)
        .filter((spec) => spec.startsWith('.'))
        .filter((spec) => {
          const other = modelFolderOf(relative(root, join(root, file, '..', spec)));
          return other !== undefined && other !== own;
        })
        .map((spec) => `${file}: ${spec}`);
    });
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
