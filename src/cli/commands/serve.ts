// `berth serve`: the Docker Engine API, so the docker CLI, dockerode,
// testcontainers and compose drive Berth. The API code is imported only here,
// so other commands (and the CLI's startup snapshot) do not pay for it.
import type { Command } from '../command.js';
import { bool, str } from '../args.js';
import { log } from '../../sys/log.js';
import { messageOf } from '../../engine/errors.js';

export const serveCommand: Command = {
  name: 'serve',
  usage: '[options]',
  summary: 'Serve the Docker Engine API on a unix socket (or a loopback TCP port)',
  flags: [
    { name: 'host', short: 'H', type: 'string', help: 'Where to listen: unix:///PATH (default: unix://<runroot>/docker.sock) or tcp://127.0.0.1:PORT', arg: 'ADDRESS' },
    { name: 'allow-remote', type: 'bool', help: 'Allow a TCP address other than loopback (no authentication: anyone who reaches it controls the host)' },
  ],
  maxArgs: 0,
  async run(ctx, p) {
    const engine = ctx.engine();
    const { DockerServer, parseHost } = await import('../../api/docker/server.js');
    const spec = str(p.flags.host) ?? `unix://${engine.config.runroot}/docker.sock`;
    const addr = parseHost(spec, bool(p.flags['allow-remote']));
    const server = new DockerServer(engine);
    await server.listen(addr);
    const shown = addr.kind === 'unix' ? `unix://${addr.path}` : `tcp://${addr.host}:${server.port}`;
    ctx.out(`berth serve: listening on ${shown}\n`);
    // A broken client connection must never take the server down with it.
    process.on('uncaughtException', (e) => log.error(`serve: unexpected error: ${messageOf(e)}\n${(e as Error)?.stack ?? ''}`));
    process.on('unhandledRejection', (e) => log.error(`serve: unhandled rejection: ${messageOf(e)}`));
    await new Promise<void>((resolve) => {
      const stop = () => { process.off('SIGINT', stop); process.off('SIGTERM', stop); resolve(); };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
    await server.close();
    return 0;
  },
};
