// What Berth records about networks and a container's place on them.

export interface NetworkRecord {
  id: string;                  // 64 hex
  name: string;
  driver: 'bridge';
  subnet: string;              // CIDR
  gateway: string;
  ipRange?: string;            // CIDR within the subnet that containers get addresses from
  bridge: string;              // host bridge interface
  internal: boolean;           // no traffic in or out of the network, only between its containers
  dns: boolean;                // names of containers resolve through Berth's DNS server
  mtu?: number;
  labels: Record<string, string>;
  options: Record<string, string>;
  created: string;             // RFC 3339
}

/** A container's attachment to one network (part of its config; the address may be assigned at start). */
export interface NetworkAttachment {
  network: string;             // network name
  ip?: string;                 // requested with --ip
  mac?: string;                // requested with --mac-address
  aliases: string[];
}

/** Where the attachment ended up while the container runs. */
export interface NetworkEndpoint {
  network: string;
  networkId: string;
  ip: string;
  prefix: number;
  gateway: string;
  mac: string;
  iface: string;               // inside the container: eth0, eth1…
  hostIface: string;           // the host end of the veth
  aliases: string[];
}

export interface PortMapping {
  hostIp: string;              // '' = every address
  hostPort: number;            // 0 = choose a free one at start
  containerPort: number;
  proto: 'tcp' | 'udp';
}
