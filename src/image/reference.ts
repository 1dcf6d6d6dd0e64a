// Image references parsed as Docker and Podman do:
//   busybox, busybox:1.36, localhost/x, docker.io/library/x, host:5000/a/b:t, name@sha256:…
import { invalidArgument } from '../engine/errors.js';

export const DEFAULT_DOMAIN = 'docker.io';
export const LOCAL_DOMAIN = 'localhost';
const COMPONENT = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DOMAIN = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?))*(?::[0-9]+)?$|^\[[a-fA-F0-9:]+\](?::[0-9]+)?$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;

export interface Reference {
  domain: string;       // docker.io, localhost, quay.io, 127.0.0.1:5000
  path: string;         // library/busybox
  tag?: string;
  digest?: string;
  /** True when the user wrote no domain (a short name). */
  short: boolean;
}

export function parseReference(input: string): Reference {
  const s = input.trim();
  if (!s) throw invalidArgument('image name must not be empty');
  if (s.length > 4096) throw invalidArgument('image name is too long');
  let rest = s;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw invalidArgument(`invalid reference "${input}": digest must be sha256:<64 lowercase hex digits>`);
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw invalidArgument(`invalid reference "${input}": bad tag "${tag}" (letters, digits, _ . -, at most 128)`);
  }
  const parts = rest.split('/');
  let domain = DEFAULT_DOMAIN;
  let short = true;
  const first = parts[0]!;
  if (parts.length > 1 && (first.includes('.') || first.includes(':') || first === LOCAL_DOMAIN || first !== first.toLowerCase())) {
    if (!DOMAIN.test(first)) throw invalidArgument(`invalid reference "${input}": bad registry "${first}"`);
    domain = first;
    parts.shift();
    short = false;
  }
  if (parts.length === 0 || parts.some((p) => !COMPONENT.test(p))) {
    const bad = parts.find((p) => !COMPONENT.test(p)) ?? rest;
    throw invalidArgument(`invalid reference "${input}": repository name "${bad}" must be lowercase letters, digits and separators`);
  }
  if (domain === DEFAULT_DOMAIN && parts.length === 1) parts.unshift('library');
  if (short) domain = DEFAULT_DOMAIN;
  const ref: Reference = { domain, path: parts.join('/'), short };
  if (tag) ref.tag = tag;
  if (digest) ref.digest = digest;
  return ref;
}

/** The repository without tag or digest, e.g. docker.io/library/busybox. */
export function repository(r: Reference): string {
  return `${r.domain}/${r.path}`;
}

/** The full name with tag (defaulting to latest unless a digest is given). */
export function fullName(r: Reference): string {
  if (r.digest) return `${repository(r)}${r.tag ? ':' + r.tag : ''}@${r.digest}`;
  return `${repository(r)}:${r.tag ?? 'latest'}`;
}

/** The name as the user would write it for Docker Hub images (busybox:latest). */
export function familiarName(name: string): string {
  return name.replace(/^docker\.io\/library\//, '').replace(/^docker\.io\//, '');
}

/**
 * The stored names a short reference may mean, most specific first (Podman looks
 * in local storage before any registry): localhost/x, then docker.io.
 */
export function shortNameCandidates(input: string): string[] {
  const r = parseReference(input);
  if (!r.short || r.digest) return [fullName(r)];
  const tail = `${r.path.replace(/^library\//, '')}:${r.tag ?? 'latest'}`;
  return [`${LOCAL_DOMAIN}/${tail}`, fullName(r)];
}

/** Splits a stored full name into repository and tag for listings. */
export function splitName(name: string): { repository: string; tag: string } {
  const at = name.indexOf('@');
  const base = at >= 0 ? name.slice(0, at) : name;
  const colon = base.lastIndexOf(':');
  if (colon > base.lastIndexOf('/')) return { repository: base.slice(0, colon), tag: base.slice(colon + 1) };
  return { repository: base, tag: '<none>' };
}
