// `berth healthcheck run` and `berth system service` (the per-host service).
import type { Command } from '../command.js';

export const healthcheckCommand: Command = {
  name: 'healthcheck',
  usage: 'COMMAND',
  summary: 'Manage health checks of containers',
  subcommands: [{
    name: 'run',
    usage: 'CONTAINER',
    summary: 'Run the container\'s health check now (exit 0 if healthy, 1 if not)',
    minArgs: 1,
    maxArgs: 1,
    async run(ctx, p) {
      // Like Podman: the exit code is this check's result; the health state also counts retries.
      const h = await ctx.engine().healthcheckRun(p.args[0]!);
      if (!h.passed) {
        ctx.out('unhealthy\n');
        return 1;
      }
      return 0;
    },
  }],
};

export const hostServiceCommand: Command = {
  name: 'service',
  usage: '',
  summary: 'Run the per-host service (health checks, log maintenance, container DNS); started automatically',
  maxArgs: 0,
  async run(ctx) {
    await ctx.engine().runHostService();
    return 0;
  },
};
