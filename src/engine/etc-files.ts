// The /etc/hosts, /etc/resolv.conf and /etc/hostname each container gets.
import fs from 'node:fs';
import path from 'node:path';
import type { ContainerConfig } from './container-types.js';

export interface EtcFiles { hosts: string; resolvConf: string; hostname: string }

export function writeEtcFiles(bundle: string, c: ContainerConfig): EtcFiles {
  const files = { hosts: path.join(bundle, 'hosts'), resolvConf: path.join(bundle, 'resolv.conf'), hostname: path.join(bundle, 'hostname') };
  fs.writeFileSync(files.hostname, c.hostname + '\n');
  fs.writeFileSync(files.hosts, hostsFile(c));
  fs.writeFileSync(files.resolvConf, resolvConf());
  return files;
}

function hostsFile(c: ContainerConfig): string {
  if (c.networkMode === 'host') {
    let host = '';
    try { host = fs.readFileSync('/etc/hosts', 'utf8'); } catch { /* none */ }
    return host + (host.endsWith('\n') || !host ? '' : '\n');
  }
  return [
    '127.0.0.1\tlocalhost localhost.localdomain localhost4 localhost4.localdomain4',
    '::1\tlocalhost localhost.localdomain localhost6 localhost6.localdomain6',
    `127.0.1.1\t${c.hostname} ${c.name}`,
    '',
  ].join('\n');
}

function resolvConf(): string {
  try {
    return fs.readFileSync('/etc/resolv.conf', 'utf8');
  } catch {
    return '';
  }
}
