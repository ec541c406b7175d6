/**
 * Shared pieces of the benchmark modules: the section a module hands back to bench/run.ts,
 * timing loops and Markdown formatting.
 */

/** What a benchmark module returns; bench/run.ts writes it between `<!-- bench:id -->` markers. */
export interface Section {
  /** Lowercase name used on the command line and in the markers, e.g. `eventstore`. */
  id: string;
  /** Heading of the section in BENCHMARKS.md. */
  title: string;
  /** Markdown below the heading (tables, notes). */
  body: string;
}

/** A benchmark module: bench/run.ts imports it by name and calls `run`. */
export interface BenchModule {
  run(): Promise<Section>;
}

/** Seconds each timed measurement runs; BENCH_SECONDS shortens or lengthens the whole suite. */
export function benchSeconds(defaultSeconds: number): number {
  const value = Number(process.env.BENCH_SECONDS);
  return Number.isFinite(value) && value > 0 ? value : defaultSeconds;
}

export interface Throughput {
  /** Units of work done (events, rows, reads…). */
  count: number;
  /** Wall time in seconds. */
  seconds: number;
  /** count / seconds. */
  rate: number;
}

export function throughput(count: number, startedNs: bigint): Throughput {
  const seconds = Number(process.hrtime.bigint() - startedNs) / 1e9;
  return { count, seconds, rate: count / seconds };
}

/**
 * Runs `loops` concurrent async loops until `seconds` have passed; each call of `step(loop, i)`
 * returns how many units it did. The clock stops when the last loop has finished its step.
 */
export async function runFor(
  seconds: number,
  loops: number,
  step: (loop: number, iteration: number) => Promise<number> | number,
): Promise<Throughput> {
  const started = process.hrtime.bigint();
  const deadline = started + BigInt(Math.round(seconds * 1e9));
  let count = 0;
  await Promise.all(
    Array.from({ length: loops }, async (_, loop) => {
      for (let iteration = 0; process.hrtime.bigint() < deadline; iteration++) {
        // Not `count += await …`: that would read `count` before the await and lose the other loops' work.
        const done = await step(loop, iteration);
        count += done;
      }
    }),
  );
  return throughput(count, started);
}

/** A measured loop: `loops` concurrent async loops calling `step`, which returns the units it did. */
export interface Job {
  key: string;
  loops: number;
  step: (loop: number, iteration: number) => Promise<number> | number;
}

export interface InterleaveOptions {
  /** Total timed seconds per job, split over the rounds. */
  seconds: number;
  rounds: number;
  /** Untimed run of each job before the first round (JIT, caches, connections). */
  warmupSeconds: number;
}

/**
 * Runs the jobs in turns: a warm-up each, then `rounds` rounds in which every job runs for
 * seconds / rounds, in an order rotated each round. A slow drift of the machine (fsync latency,
 * cache state, a neighbour's load) then falls on all jobs alike, so their ratios hold.
 */
export async function interleave(jobs: Job[], options: InterleaveOptions, onJob?: (job: Job) => void): Promise<Map<string, Throughput>> {
  for (const job of jobs) {
    onJob?.(job);
    await runFor(options.warmupSeconds, job.loops, job.step);
  }
  const totals = new Map(jobs.map((job) => [job.key, { count: 0, seconds: 0 }]));
  for (let round = 0; round < options.rounds; round++) {
    for (let i = 0; i < jobs.length; i++) {
      const job = jobs[(i + round) % jobs.length] as Job;
      const result = await runFor(options.seconds / options.rounds, job.loops, job.step);
      const total = totals.get(job.key) as { count: number; seconds: number };
      total.count += result.count;
      total.seconds += result.seconds;
    }
  }
  return new Map([...totals].map(([key, total]) => [key, { ...total, rate: total.count / total.seconds }]));
}

/** `12,345` */
export function formatCount(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

/** `0.87×` */
export function formatRatio(value: number): string {
  if (!Number.isFinite(value)) return '—';
  return `${value >= 10 ? value.toFixed(1) : value.toFixed(2)}×`;
}

/** A Markdown table; `align` has one letter per column, `l` or `r` (default: first left, others right). */
export function table(headers: string[], rows: (string | number)[][], align?: string): string {
  const line = (cells: (string | number)[]) => `| ${cells.map((cell) => String(cell).replaceAll('|', '\\|')).join(' | ')} |`;
  const alignment = headers.map((_, index) => ((align?.[index] ?? (index === 0 ? 'l' : 'r')) === 'l' ? '---' : '---:'));
  return [line(headers), `|${alignment.map((cell) => ` ${cell} `).join('|')}|`, ...rows.map(line)].join('\n');
}

/** Logs progress to stderr so that stdout stays clean for whoever pipes it. */
export function progress(message: string): void {
  console.error(`[bench] ${message}`);
}
