// Schema migrations, applied in order; PRAGMA user_version is the schema version.
// Records are JSON blobs; only lookup and constraint columns are broken out.
export const MIGRATIONS: string[] = [
  `
  CREATE TABLE images (
    id TEXT PRIMARY KEY,            -- hex digest of the image config (the image ID)
    created INTEGER NOT NULL,       -- image creation time, unix ms
    json TEXT NOT NULL              -- ImageRecord
  );
  CREATE TABLE image_names (
    name TEXT PRIMARY KEY,          -- fully qualified reference, e.g. docker.io/library/busybox:latest
    image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE
  );
  CREATE INDEX image_names_by_image ON image_names(image_id);
  CREATE TABLE layers (
    chain_id TEXT PRIMARY KEY,      -- hex chain ID; the unpacked directory is layers/<chain_id>
    diff_id TEXT NOT NULL,
    parent TEXT,
    size INTEGER NOT NULL
  );
  CREATE TABLE containers (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    image_id TEXT,
    created INTEGER NOT NULL,
    state TEXT NOT NULL,            -- created | running | paused | stopped | exited | removing
    config TEXT NOT NULL,           -- ContainerConfig: what was asked for (immutable but for rename/update)
    status TEXT NOT NULL            -- ContainerStatus: what happened (pid, exit code, times)
  );
  CREATE INDEX containers_by_image ON containers(image_id);
  CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    time INTEGER NOT NULL,          -- unix ns / 1000 (microseconds)
    type TEXT NOT NULL,
    action TEXT NOT NULL,
    id TEXT NOT NULL,
    name TEXT,
    attributes TEXT
  );
  `,
  // volumes: named and anonymous volumes, and which containers use them.
  `
  CREATE TABLE volumes (
    name TEXT PRIMARY KEY,
    driver TEXT NOT NULL,           -- local
    created INTEGER NOT NULL,       -- unix ms
    json TEXT NOT NULL              -- labels, options (type/device/o), anonymous, needsCopyUp
  );
  CREATE TABLE container_volumes (
    container_id TEXT NOT NULL REFERENCES containers(id) ON DELETE CASCADE,
    volume TEXT NOT NULL REFERENCES volumes(name),   -- a used volume cannot be deleted
    PRIMARY KEY (container_id, volume)
  );
  CREATE INDEX container_volumes_by_volume ON container_volumes(volume);
  `,
  // networks: bridge networks, IP allocations and published host ports.
  `
  CREATE TABLE networks (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created INTEGER NOT NULL,
    json TEXT NOT NULL              -- NetworkRecord: driver, subnet, gateway, bridge, options, labels
  );
  CREATE TABLE network_ips (
    network_id TEXT NOT NULL REFERENCES networks(id) ON DELETE CASCADE,
    ip TEXT NOT NULL,
    container_id TEXT NOT NULL,
    PRIMARY KEY (network_id, ip)    -- an address is never handed out twice
  );
  CREATE INDEX network_ips_by_container ON network_ips(container_id);
  CREATE TABLE published_ports (
    proto TEXT NOT NULL,
    host_ip TEXT NOT NULL,          -- 0.0.0.0 = every host address
    host_port INTEGER NOT NULL,
    container_id TEXT NOT NULL,
    container_ip TEXT NOT NULL,
    container_port INTEGER NOT NULL,
    PRIMARY KEY (proto, host_ip, host_port)
  );
  CREATE INDEX published_ports_by_container ON published_ports(container_id);
  `,
];
