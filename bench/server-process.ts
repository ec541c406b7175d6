/**
 * The HTTP server under test, in a child process of its own (bench/http-server.ts under tsx), so
 * that the load generator (autocannon, in the benchmark process) does not share its event loop.
 * Samples the child's RSS and reads its CPU time from /proc.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const SERVER_SCRIPT = join(ROOT, 'bench', 'http-server.ts');
/** Server RSS is sampled this often while the server runs. */
export const RSS_SAMPLE_MS = 100;
const CLOCK_TICKS = 100;

export interface Server {
  url: string;
  pid: number;
  /** RSS right after start, before any load, in bytes. */
  idleRss: number;
  /** The largest sampled RSS so far. */
  maxRss(): number;
  /** VmHWM: the kernel's own peak RSS of the process. */
  peakRss(): number;
  /** utime + stime of the server process, in seconds. */
  cpuSeconds(): number;
  stop(): Promise<void>;
}

export interface ServerOptions {
  /** BACKOFFICE_* settings (and BENCH_SERVER) on top of this process's environment. */
  env: Record<string, string>;
  /** Runs the server with --cpu-prof and keeps the profiles there. */
  profileDir?: string | undefined;
}

function procStatusBytes(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

function procCpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    // utime and stime are fields 14 and 15 of /proc/<pid>/stat; index 0 here is field 3.
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}

/** Starts the server; resolves once it listens (it sends its address over IPC). */
export async function startServer(options: ServerOptions): Promise<Server> {
  const { profileDir } = options;
  const profile = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  if (profileDir) mkdirSync(profileDir, { recursive: true });
  const child: ChildProcess = spawn(process.execPath, [...profile, '--import', 'tsx', SERVER_SCRIPT], {
    cwd: ROOT,
    env: { ...process.env, BACKOFFICE_HOST: '127.0.0.1', BACKOFFICE_PORT: '0', BACKOFFICE_LOG_LEVEL: 'warn', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const address = await new Promise<string>((resolve, reject) => {
    child.once('message', (message) => resolve((message as { address: string }).address));
    void exited.then((code) => reject(new Error(`the server exited (${code}) before listening:\n${output}`)));
  });
  const pid = child.pid as number;
  let max = procStatusBytes(pid, 'VmRSS');
  const idleRss = max;
  const sampler = setInterval(() => {
    max = Math.max(max, procStatusBytes(pid, 'VmRSS'));
  }, RSS_SAMPLE_MS);
  let peak = 0;
  return {
    url: address,
    pid,
    idleRss,
    maxRss: () => max,
    peakRss: () => Math.max(peak, procStatusBytes(pid, 'VmHWM')),
    cpuSeconds: () => procCpuSeconds(pid),
    async stop() {
      clearInterval(sampler);
      max = Math.max(max, procStatusBytes(pid, 'VmRSS'));
      peak = procStatusBytes(pid, 'VmHWM');
      child.kill('SIGTERM');
      const code = await exited;
      if (code !== 0) throw new Error(`the server exited with ${code}:\n${output}`);
    },
  };
}
