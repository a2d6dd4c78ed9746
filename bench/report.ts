/**
 * The bench report: every figure beside the baseline it was measured against in the same run,
 * printed as it is measured and written at the end to docs/bench.md (a markdown table per section
 * plus the JSON of the whole run), with the machine, Postgres version and date.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/** One measured figure. `ratio` is value/baseline unless the section says otherwise. */
export interface Figure {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  readonly baseline?: { readonly name: string; readonly value: number };
  readonly ratio?: number;
  /** The goal in words, e.g. "<= 1.1x" — and whether this run met it. */
  readonly target?: { readonly text: string; readonly met: boolean };
}

export interface Section {
  readonly title: string;
  readonly note?: string;
  readonly figures: Figure[];
}

export interface MachineFacts {
  readonly date: string;
  readonly node: string;
  readonly cpus: string;
  readonly memoryGiB: number;
  readonly os: string;
  readonly postgres: string;
  readonly database: string;
}

/** Collects sections; `print` shows each as it completes. */
export class BenchReport {
  readonly sections: Section[] = [];

  constructor(
    readonly machine: MachineFacts,
    private readonly print: (line: string) => void = (l) => process.stdout.write(`${l}\n`),
  ) {}

  add(section: Section): void {
    this.sections.push(section);
    this.print('');
    for (const line of renderSection(section)) this.print(line);
  }

  /**
   * Write docs/bench.md under `root`, and replace README.md's block between the
   * {@link README_START} and {@link README_END} markers with this run's headline figures (every
   * figure that has a target), so the README quotes the report rather than memory.
   */
  async write(root: string): Promise<string> {
    const file = path.join(root, 'docs', 'bench.md');
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, renderDocument(this));
    const readme = path.join(root, 'README.md');
    const text = await readFile(readme, 'utf8').catch(() => null);
    const start = text?.indexOf(README_START) ?? -1;
    const end = text?.indexOf(README_END) ?? -1;
    if (text && start >= 0 && end > start) {
      const head = text.slice(0, start + README_START.length);
      await writeFile(readme, `${head}\n${renderHeadlines(this)}\n${text.slice(end)}`);
    }
    formatMarkdown(root, [file, readme]);
    return file;
  }
}

/**
 * Lay the written tables out as the repository's formatter (Biome) would, so a bench run leaves
 * `npm run lint` clean. Best effort: without the dev dependency the files stay as written.
 */
function formatMarkdown(root: string, files: readonly string[]): void {
  const biome = path.join(root, 'node_modules', '.bin', 'biome');
  if (!existsSync(biome)) return;
  spawnSync(biome, ['format', '--write', ...files], { cwd: root, stdio: 'ignore' });
}

export const README_START = '<!-- bench:start (written by npm run bench) -->';
export const README_END = '<!-- bench:end -->';

/** The figures with a target, one table row each, with the run's date and machine. */
export function renderHeadlines(r: BenchReport): string {
  const m = r.machine;
  const rows = r.sections.flatMap((s) =>
    s.figures
      .filter((f) => f.target)
      .map((f) => {
        const baseline = f.baseline
          ? `${fmt(f.baseline.value)} ${f.unit} (${f.baseline.name})`
          : '';
        const ratio = f.ratio === undefined ? '' : `${f.ratio.toFixed(2)}x`;
        const target = `${f.target!.text} ${f.target!.met ? 'met' : 'MISSED'}`;
        return `| ${f.name} | ${fmt(f.value)} ${f.unit} | ${baseline} | ${ratio} | ${target} |`;
      }),
  );
  return [
    `From \`docs/bench.md\` of ${m.date.slice(0, 10)} (${m.cpus}, ${m.postgres}):`,
    '',
    '| figure | value | baseline | ratio | target |',
    '| --- | ---: | --- | ---: | --- |',
    ...rows,
  ].join('\n');
}

export function machineFacts(postgres: string, database: string): MachineFacts {
  const cpus = os.cpus();
  return {
    date: new Date().toISOString(),
    node: process.version,
    cpus: `${cpus.length} x ${cpus[0]?.model.trim() ?? 'unknown'}`,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    postgres,
    database,
  };
}

function renderSection(s: Section): string[] {
  const lines = [`## ${s.title}`];
  if (s.note) lines.push('', s.note);
  lines.push(
    '',
    '| figure | value | baseline | ratio | target |',
    '| --- | ---: | --- | ---: | --- |',
  );
  for (const f of s.figures) {
    const baseline = f.baseline ? `${f.baseline.name}: ${fmt(f.baseline.value)} ${f.unit}` : '';
    const ratio = f.ratio === undefined ? '' : `${f.ratio.toFixed(2)}x`;
    const target = f.target ? `${f.target.text} ${f.target.met ? 'met' : 'MISSED'}` : '';
    lines.push(`| ${f.name} | ${fmt(f.value)} ${f.unit} | ${baseline} | ${ratio} | ${target} |`);
  }
  return lines;
}

function renderDocument(r: BenchReport): string {
  const m = r.machine;
  const head = [
    '# loopwright bench',
    '',
    'Written by `npm run bench`. Every figure is measured beside its baseline in ' +
      'the same run on the',
    'same machine and database; quote ratios, not absolute times (machines differ, and a shared',
    'machine is noisy).',
    '',
    `- date: ${m.date}`,
    `- machine: ${m.cpus}, ${m.memoryGiB} GiB, ${m.os}`,
    `- node: ${m.node}`,
    `- postgres: ${m.postgres} (${m.database})`,
  ];
  const body = r.sections.flatMap((s) => ['', ...renderSection(s)]);
  const json = JSON.stringify({ machine: m, sections: r.sections }, null, 2);
  const raw = ['', '## Raw figures (JSON)', '', '```json', json, '```'];
  return `${[...head, ...body, ...raw].join('\n')}\n`;
}

function fmt(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (Math.abs(x) >= 100) return x.toFixed(0);
  if (Math.abs(x) >= 10) return x.toFixed(1);
  return x.toFixed(2);
}

/** value/baseline rounded to 2 decimals. */
export function ratioOf(value: number, baseline: number): number {
  return Math.round((value / baseline) * 100) / 100;
}

/** The p-th percentile (0..100) of a list of numbers. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}
