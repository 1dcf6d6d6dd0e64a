// `network connect` / `network disconnect`: change a container's networks, live
// when it runs (a new veth appears or disappears inside it), else at next start.
import type { EngineContext } from './context.js';
import { conflict, invalidArgument } from './errors.js';
import { withContainerLock } from './intents.js';
import { observe, isActive } from './lifecycle.js';
import { connectRunning, disconnectRunning } from './container-network.js';
import { networkByName } from './network-ops.js';
import { ipToInt } from '../network/ipv4.js';
import { DEFAULT_NETWORK } from './network-config.js';

export interface ConnectOptions { ip?: string; aliases?: string[] }

const canonical = (n: string) => (n === 'bridge' || n === 'default' ? DEFAULT_NETWORK : n);

export async function connectNetwork(ctx: EngineContext, networkRef: string, containerRef: string, o: ConnectOptions): Promise<void> {
  const net = networkByName(ctx, canonical(networkRef));
  const id = ctx.containers.resolve(containerRef).config.id;
  if (o.ip) ipToInt(o.ip);
  await withContainerLock(ctx, id, 'network-connect', async () => {
    const rec = observe(ctx, ctx.containers.resolve(id));
    const c = rec.config;
    if (c.networkMode !== 'bridge') throw invalidArgument(`container ${c.name} uses --network ${c.networkMode.split(':')[0]}: it cannot join networks`);
    if (c.networks.some((a) => a.network === net.name)) throw conflict(`container ${c.name} is already connected to network ${net.name}`);
    const attachment = { network: net.name, aliases: o.aliases ?? [], ...(o.ip ? { ip: o.ip } : {}) };
    const config = { ...c, networks: [...c.networks, attachment] };
    if (isActive(rec)) {
      const endpoint = await connectRunning(ctx, rec, attachment);
      const network = { endpoints: [...(rec.status.network?.endpoints ?? []), endpoint], ports: rec.status.network?.ports ?? [] };
      ctx.containers.setState(id, rec.state, { ...rec.status, network });
    }
    ctx.containers.updateConfig(id, config);
    ctx.events.record('network', 'connect', net.id, net.name, { container: id });
  });
}

export async function disconnectNetwork(ctx: EngineContext, networkRef: string, containerRef: string): Promise<void> {
  const net = networkByName(ctx, canonical(networkRef));
  const id = ctx.containers.resolve(containerRef).config.id;
  await withContainerLock(ctx, id, 'network-disconnect', async () => {
    const rec = observe(ctx, ctx.containers.resolve(id));
    const c = rec.config;
    if (!c.networks.some((a) => a.network === net.name)) throw conflict(`container ${c.name} is not connected to network ${net.name}`);
    const endpoint = rec.status.network?.endpoints.find((e) => e.network === net.name);
    if (isActive(rec) && endpoint) {
      if (rec.status.network?.ports.length && rec.status.network.endpoints[0]?.network === net.name) {
        throw conflict(`cannot disconnect ${c.name} from ${net.name}: its published ports go to that network; stop the container first`);
      }
      await disconnectRunning(ctx, rec, endpoint);
      const network = { endpoints: rec.status.network!.endpoints.filter((e) => e !== endpoint), ports: rec.status.network!.ports };
      ctx.containers.setState(id, rec.state, { ...rec.status, network });
    }
    ctx.containers.updateConfig(id, { ...c, networks: c.networks.filter((a) => a.network !== net.name) });
    ctx.events.record('network', 'disconnect', net.id, net.name, { container: id });
  });
}
