import { type ChildProcess, spawn } from 'node:child_process';
import { after } from 'node:test';

export interface Service {
  child: ChildProcess;
  /** The base URL it listens on. */
  listening: Promise<string>;
  exited: Promise<number | null>;
  output(): string;
  kill(signal?: NodeJS.Signals): Promise<number | null>;
}

const children = new Set<ChildProcess>();
after(() => {
  for (const child of children) child.kill('SIGKILL');
});

/** Starts `backoffice start` (from the sources) as a process of its own, on a free port. */
export function launchService(env: Record<string, string>, args: string[] = []): Service {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/platform/main.ts', 'start', ...args], {
    env: { ...process.env, BACKOFFICE_PORT: '0', BACKOFFICE_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let output = '';
  child.stdout?.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr?.on('data', (chunk) => {
    output += chunk;
  });
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      children.delete(child);
      resolve(code);
    }),
  );
  const listening = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no listening line:\n${output}`)), 120_000);
    child.once('exit', () => {
      clearTimeout(timer);
      reject(new Error(`exited before listening:\n${output}`));
    });
    child.stdout?.on('data', () => {
      const match = /"address":"(http:\/\/[^"]+)"/.exec(output);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
  });
  listening.catch(() => undefined);
  return {
    child,
    listening,
    exited,
    output: () => output,
    async kill(signal = 'SIGKILL') {
      child.kill(signal);
      return exited;
    },
  };
}
