import { randomBytes } from 'node:crypto';

/** The NATS server the `.nats.` suites use. */
export const NATS_URL = process.env.BACKOFFICE_TEST_NATS_URL ?? 'nats://127.0.0.1:4222';

/** A subject root of its own for one test file (its streams are `<ROOT>_EVENTS` and `<ROOT>_MESSAGES`). */
export const natsTestRoot = (label: string) => `t${label.replace(/[^a-z0-9]/g, '').slice(0, 12)}${randomBytes(4).toString('hex')}`;

/** Deletes the streams of a root (and with them their consumers). */
export async function deleteNatsStreams(root: string): Promise<void> {
  const [{ connect }, { jetstreamManager }] = await Promise.all([import('@nats-io/transport-node'), import('@nats-io/jetstream')]);
  const connection = await connect({ servers: NATS_URL });
  try {
    const manager = await jetstreamManager(connection);
    const prefix = root.toUpperCase().replace(/[^A-Z0-9_]/g, '_');
    for (const name of [`${prefix}_EVENTS`, `${prefix}_MESSAGES`]) await manager.streams.delete(name).catch(() => false);
  } finally {
    await connection.close();
  }
}

/**
 * A nats-server of the calling file's own on a free port (never the shared one on 4222), which a
 * test may kill and start again on the same port and store directory.
 */
export async function privateNatsServer() {
  const [{ spawn }, { mkdtempSync, rmSync }, { createServer, Socket }, { tmpdir }, { join }] = await Promise.all([
    import('node:child_process'),
    import('node:fs'),
    import('node:net'),
    import('node:os'),
    import('node:path'),
  ]);
  const binary = process.env.BACKOFFICE_TEST_NATS_SERVER ?? '/usr/sbin/nats-server';
  const storeDir = mkdtempSync(join(tmpdir(), 'bo-nats-'));
  const port = await new Promise<number>((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no free port'))));
    });
  });
  const accepts = () =>
    new Promise<boolean>((resolve) => {
      const socket = new Socket();
      const done = (ok: boolean) => {
        socket.destroy();
        resolve(ok);
      };
      socket.once('error', () => done(false));
      socket.connect(port, '127.0.0.1', () => done(true));
    });
  let child: ReturnType<typeof spawn> | undefined;
  const server = {
    url: `nats://127.0.0.1:${port}`,
    async start(): Promise<void> {
      const started = spawn(binary, ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', storeDir], { stdio: 'ignore' });
      child = started;
      const deadline = Date.now() + 15_000;
      while (!(await accepts())) {
        if (started.exitCode !== null) throw new Error(`nats-server exited with ${started.exitCode}`);
        if (Date.now() > deadline) throw new Error('nats-server did not start');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    async kill(): Promise<void> {
      const running = child;
      child = undefined;
      if (!running || running.exitCode !== null) return;
      const exited = new Promise((resolve) => running.once('exit', resolve));
      running.kill('SIGKILL');
      await exited;
    },
    async dispose(): Promise<void> {
      await server.kill();
      rmSync(storeDir, { recursive: true, force: true });
    },
  };
  await server.start();
  return server;
}
