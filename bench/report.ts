/**
 * One figure of the benchmark, beside the baseline it is judged against. `value: null` is a
 * figure that could not be measured in this run; `note` says why.
 */
export type Row = {
  readonly section: string;
  readonly figure: string;
  readonly value: number | null;
  readonly unit: string;
  readonly baseline?: { readonly label: string; readonly value: number; readonly unit?: string };
  readonly note?: string;
};

export type Machine = Record<string, string>;

export type Results = { readonly machine: Machine; readonly rows: readonly Row[] };

/** value ÷ baseline: how many baselines one figure costs (or, for rates, what share of it). */
export function ratioOf(row: Row): number | undefined {
  if (row.value === null || !row.baseline || row.baseline.value === 0) return undefined;
  return row.value / row.baseline.value;
}

const number = (value: number): string => {
  const abs = Math.abs(value);
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3;
  return value.toLocaleString('en-US', {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
};

function cells(row: Row): string[] {
  const ratio = ratioOf(row);
  return [
    row.section,
    row.figure,
    row.value === null ? 'not measured' : `${number(row.value)} ${row.unit}`,
    row.baseline
      ? `${number(row.baseline.value)} ${row.baseline.unit ?? row.unit} (${row.baseline.label})`
      : '',
    ratio === undefined ? '' : `${number(ratio)}×`,
    row.note ?? '',
  ];
}

const header = ['', 'Figure', 'Tally', 'Baseline (same run)', 'Ratio', 'Note'];

export function textTable(results: Results): string {
  const rows = [header, ...results.rows.map(cells)];
  const widths = header.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) =>
    r
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join(' │ ')
      .trimEnd();
  const machine = Object.entries(results.machine).map(([k, v]) => `${k}: ${v}`);
  return [
    ...machine,
    '',
    line(header),
    widths.map((w) => '─'.repeat(w)).join('─┼─'),
    ...rows.slice(1).map(line),
  ].join('\n');
}

export function markdownTable(results: Results): string {
  const escape = (cell: string) => cell.replaceAll('|', '\\|');
  const machine = Object.entries(results.machine)
    .map(([k, v]) => `${k}: ${v}`)
    .join(' · ');
  return [
    `_${escape(machine)}_`,
    '',
    `| ${header.join(' | ')} |`,
    `|${header.map(() => '---').join('|')}|`,
    ...results.rows.map((row) => `| ${cells(row).map(escape).join(' | ')} |`),
    '',
  ].join('\n');
}

export function jsonResults(results: Results): string {
  return `${JSON.stringify(
    { ...results, rows: results.rows.map((row) => ({ ...row, ratio: ratioOf(row) ?? null })) },
    null,
    2,
  )}\n`;
}
