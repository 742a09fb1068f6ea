import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const doc = 'docs/architecture.md';
const self = 'test/core/architecture-citations.test.ts';

function sources(dir: string): string[] {
  return readdirSync(join(root, dir)).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(join(root, path)).isDirectory()) return sources(path);
    return /\.(?:[cm]?[jt]s|tsx)$/.test(name) ? [path] : [];
  });
}

/** The document's sections: every heading, at any level. */
const headings = new Set(
  [...readFileSync(join(root, doc), 'utf8').matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)].map(
    (match) => match[1]!,
  ),
);

/**
 * Every section of the document `text` cites, as `(docs/architecture.md, "Section")`, with
 * where it is. A citation may be wrapped over lines of a comment (`//`, ` * `): the line breaks
 * and the comment's marks between its words read as one space. A comma after the document's
 * name must be followed by a quoted section; the document named alone cites no section.
 */
function citations(text: string): { readonly section: string; readonly line: number }[] {
  return [...text.matchAll(/docs\/architecture\.md/g)].flatMap((match) => {
    const end = match.index + match[0].length;
    const after = text
      .slice(end, end + 400)
      .replace(/[ \t]*\r?\n[ \t]*(?:\/\/+|\*(?!\/)|#)?[ \t]*/g, ' ');
    const line = text.slice(0, match.index).split('\n').length;
    if (!/^\s*,/.test(after)) return [];
    const quoted = /^\s*,\s*["“]([^"”]+)["”]/.exec(after);
    // A comma with no quoted section after it is a citation written some other way: named as
    // such, so the test fails and the form is either fixed or taught here.
    return [{ section: quoted ? quoted[1]!.replace(/\s+/g, ' ').trim() : `? ${after}`, line }];
  });
}

const dirs = ['core', 'worker', 'app', 'server', 'browser', 'bench', 'scripts', 'test'];

describe(`citations of ${doc}`, () => {
  it('reads a citation wrapped over comment lines', () => {
    expect(citations('// a (docs/architecture.md, "The first\n  // screen"): b')).toEqual([
      { section: 'The first screen', line: 1 },
    ]);
    expect(citations('/**\n * a (docs/architecture.md,\n * "Sync rules"): b\n */')).toEqual([
      { section: 'Sync rules', line: 2 },
    ]);
    expect(citations('the list (docs/architecture.md). And')).toEqual([]);
  });

  it('cite only sections that exist as headings', () => {
    const cited = dirs.flatMap((dir) =>
      sources(dir)
        .filter((file) => file !== self)
        .flatMap((file) =>
          citations(readFileSync(join(root, file), 'utf8')).map((citation) => ({
            ...citation,
            file,
          })),
        ),
    );
    // The scan finds the citations at all (a broken pattern would pass vacuously).
    expect(cited.length).toBeGreaterThan(40);
    const missing = cited
      .filter(({ section }) => !headings.has(section))
      .map(({ file, line, section }) => `${file}:${line}: "${section}"`);
    expect(missing).toEqual([]);
  });
});
