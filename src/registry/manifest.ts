// Manifests and indexes from registries (HOSTILE input): validation, the
// platform choice for this host, and conversion between OCI and Docker v2s2.
import { BerthError, corrupt, invalidArgument } from '../engine/errors.js';
import { DIGEST_RE, sha256 } from '../content/store.js';
import { MEDIA, goArch, type Descriptor, type ImageIndex, type Manifest } from '../image/types.js';

export interface Platform { os: string; architecture: string; variant?: string }

const INDEX_TYPES = new Set<string>([MEDIA.ociIndex, MEDIA.dockerManifestList]);
const MANIFEST_TYPES = new Set<string>([MEDIA.ociManifest, MEDIA.dockerManifest]);
const LAYER_TYPES = new Set<string>([
  MEDIA.ociLayer, MEDIA.ociLayerGzip, MEDIA.ociLayerZstd, MEDIA.dockerLayer, MEDIA.dockerLayerGzip,
  'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip', 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
]);

export type Parsed =
  | { kind: 'index'; index: ImageIndex; mediaType: string }
  | { kind: 'manifest'; manifest: Manifest; mediaType: string };

/** This host's platform (arm64 reports variant v8, as containerd does). */
export function hostPlatform(): Platform {
  const architecture = goArch();
  return { os: 'linux', architecture, ...(architecture === 'arm64' ? { variant: 'v8' } : architecture === 'arm' ? { variant: 'v7' } : {}) };
}

/** Parses "os/arch[/variant]" (--platform), or "arch" alone. */
export function parsePlatform(s: string): Platform {
  const parts = s.split('/');
  if (parts.some((p) => !/^[a-z0-9_.-]+$/i.test(p)) || parts.length > 3) throw invalidArgument(`invalid platform "${s}": use OS/ARCH[/VARIANT], e.g. linux/arm64`);
  if (parts.length === 1) return { os: 'linux', architecture: parts[0]! };
  const [os, architecture, variant] = parts as [string, string, string?];
  return { os, architecture: normArch(architecture), ...(variant ? { variant } : {}) };
}

function normArch(a: string): string {
  return ({ x86_64: 'amd64', aarch64: 'arm64', armhf: 'arm', i386: '386' } as Record<string, string>)[a] ?? a;
}

export function platformString(p: Platform): string {
  return `${p.os}/${p.architecture}${p.variant ? '/' + p.variant : ''}`;
}

function isDescriptor(d: unknown): d is Descriptor {
  const x = d as Descriptor;
  return !!x && typeof x === 'object' && typeof x.mediaType === 'string' && typeof x.digest === 'string' && DIGEST_RE.test(x.digest)
    && Number.isSafeInteger(x.size) && x.size >= 0;
}

/**
 * Parses manifest bytes and checks their digest. `expected` is the digest the
 * reference or the registry named (sha256 only); `what` names it in errors.
 */
export function parseManifest(bytes: Buffer, contentType: string, expected: string | undefined, what: string): Parsed {
  if (expected !== undefined) {
    if (!DIGEST_RE.test(expected)) throw corrupt(`the registry named digest "${expected}" for ${what}, which is not sha256:<64 hex>`);
    const got = sha256(bytes);
    if (got !== expected) throw corrupt(`the manifest of ${what} does not match its digest: expected ${expected}, got ${got} (the registry or a proxy altered it)`);
  }
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
  } catch {
    throw corrupt(`the manifest of ${what} is not valid JSON: the registry is broken or serves something else`);
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw corrupt(`the manifest of ${what} is not a JSON object`);
  const mediaType = typeof doc.mediaType === 'string' ? doc.mediaType : contentType;
  if (doc.schemaVersion === 1 || /schema1|prettyjws|manifest\.v1\+json$/.test(mediaType) && !mediaType.startsWith('application/vnd.oci')) {
    throw invalidArgument(`${what} is a Docker schema 1 image, which Berth does not support: push it again with a current client`);
  }
  if (doc.schemaVersion !== 2) throw corrupt(`the manifest of ${what} has schemaVersion ${JSON.stringify(doc.schemaVersion)}, expected 2`);
  if (INDEX_TYPES.has(mediaType) || (!MANIFEST_TYPES.has(mediaType) && Array.isArray(doc.manifests))) {
    if (!Array.isArray(doc.manifests) || !doc.manifests.every(isDescriptor)) throw corrupt(`the index of ${what} has malformed "manifests" entries`);
    return { kind: 'index', index: doc as unknown as ImageIndex, mediaType: INDEX_TYPES.has(mediaType) ? mediaType : MEDIA.ociIndex };
  }
  if (!isDescriptor(doc.config) || !Array.isArray(doc.layers) || !doc.layers.every(isDescriptor)) {
    throw corrupt(`the manifest of ${what} has a malformed config or layers list`);
  }
  const m = doc as unknown as Manifest;
  for (const l of m.layers) {
    if (!LAYER_TYPES.has(l.mediaType)) throw invalidArgument(`${what} has a layer of unsupported type ${l.mediaType}: Berth pulls container images only`);
    if (/foreign|nondistributable/.test(l.mediaType)) throw invalidArgument(`${what} has a foreign (non-distributable) layer, as Windows images do: Berth runs Linux images only`);
  }
  return { kind: 'manifest', manifest: m, mediaType: MANIFEST_TYPES.has(mediaType) ? mediaType : MEDIA.ociManifest };
}

/** The index entry for `want` (the host's platform by default). */
export function choosePlatform(index: ImageIndex, want: Platform, what: string): Descriptor {
  const entries = index.manifests.filter((d) => MANIFEST_TYPES.has(d.mediaType) && d.platform);
  const matches = entries.filter((d) => d.platform!.os === want.os && normArch(d.platform!.architecture) === want.architecture);
  // An exact variant first, then one without a variant, then any (arm64 images often omit v8).
  const best = matches.find((d) => (d.platform!.variant ?? '') === (want.variant ?? ''))
    ?? matches.find((d) => !d.platform!.variant) ?? (want.variant === undefined ? matches[0] : undefined)
    ?? (want.architecture === 'arm64' ? matches[0] : undefined);
  if (best) return best;
  const have = [...new Set(entries.map((d) => platformString(d.platform as Platform)))].join(', ') || 'none';
  throw new BerthError('not-found', `${what} has no image for ${platformString(want)} (it has: ${have}): choose one with --platform`);
}

export type ManifestFormat = 'oci' | 'v2s2';

export function formatOf(mediaType: string): ManifestFormat {
  return mediaType === MEDIA.dockerManifest ? 'v2s2' : 'oci';
}

const TO_DOCKER: Record<string, string> = {
  [MEDIA.ociLayer]: MEDIA.dockerLayer, [MEDIA.ociLayerGzip]: MEDIA.dockerLayerGzip, [MEDIA.ociConfig]: MEDIA.dockerConfig,
};
const TO_OCI: Record<string, string> = Object.fromEntries(Object.entries(TO_DOCKER).map(([a, b]) => [b, a]));

/**
 * The manifest in `format`: the stored bytes unchanged when they already are
 * (so the digest stays), else a converted manifest with the same blobs.
 */
export function convertManifest(bytes: Buffer, format: ManifestFormat, what: string): { bytes: Buffer; mediaType: string } {
  const m = JSON.parse(bytes.toString('utf8')) as Manifest;
  const current = formatOf(m.mediaType ?? MEDIA.ociManifest);
  if (current === format) return { bytes, mediaType: m.mediaType ?? MEDIA.ociManifest };
  const table = format === 'v2s2' ? TO_DOCKER : TO_OCI;
  const conv = (d: Descriptor, kind: string): Descriptor => {
    const mediaType = table[d.mediaType] ?? (Object.values(table).includes(d.mediaType) ? d.mediaType : undefined);
    if (!mediaType) {
      const hint = format === 'v2s2' ? ': push it with --format oci' : '';
      throw invalidArgument(`${what} has a ${kind} of type ${d.mediaType}, which the ${format === 'v2s2' ? 'Docker v2s2' : 'OCI'} format cannot describe${hint}`);
    }
    return { mediaType, digest: d.digest, size: d.size, ...(d.annotations && format === 'oci' ? { annotations: d.annotations } : {}) };
  };
  const out: Manifest = {
    schemaVersion: 2,
    mediaType: format === 'v2s2' ? MEDIA.dockerManifest : MEDIA.ociManifest,
    config: conv(m.config, 'config'),
    layers: m.layers.map((l) => conv(l, 'layer')),
    ...(format === 'oci' && m.annotations ? { annotations: m.annotations } : {}),
  };
  return { bytes: Buffer.from(JSON.stringify(out, null, 2)), mediaType: out.mediaType! };
}
