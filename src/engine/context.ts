// The engine's shared state: configuration, paths, the database and the
// subsystems. Everything is opened lazily so a command pays only for what it uses.
import fs from 'node:fs';
import { type EngineConfig, Paths } from './config.js';
import { openDatabase, type Db } from '../store/db.js';
import { ContentStore } from '../content/store.js';
import { ImageStore } from '../image/store.js';
import { LayerStore } from '../image/layers.js';
import { Runc } from '../runtime/runc.js';
import { Conmon } from '../runtime/conmon.js';
import type { Monitor, OciRuntime } from '../runtime/runtime.js';
import { ContainerStore } from './container-store.js';
import { EventLog } from './events.js';
import { VolumeStore } from '../volume/store.js';
import { NetworkStore } from '../network/store.js';

export class EngineContext {
  readonly paths: Paths;
  private _db?: Db;
  private _content?: ContentStore;
  private _images?: ImageStore;
  private _layers?: LayerStore;
  private _runtime?: OciRuntime;
  private _monitor?: Conmon;
  private _containers?: ContainerStore;
  private _events?: EventLog;
  private _volumes?: VolumeStore;
  private _networks?: NetworkStore;

  constructor(readonly cfg: EngineConfig) {
    this.paths = new Paths(cfg);
  }

  get db(): Db {
    if (!this._db) {
      fs.mkdirSync(this.cfg.root, { recursive: true, mode: 0o700 });
      this._db = openDatabase(this.paths.db);
    }
    return this._db;
  }
  get content(): ContentStore { return (this._content ??= new ContentStore(this.cfg.root)); }
  get images(): ImageStore { return (this._images ??= new ImageStore(this.db)); }
  get layers(): LayerStore { return (this._layers ??= new LayerStore(this.paths, this.images, this.content)); }
  get runtime(): OciRuntime { return (this._runtime ??= new Runc(this.cfg.runtimePath, this.paths.runcRoot)); }
  get monitor(): Monitor & Conmon { return (this._monitor ??= new Conmon(this.cfg.conmonPath, this.runtime)); }
  get containers(): ContainerStore { return (this._containers ??= new ContainerStore(this.db)); }
  get events(): EventLog { return (this._events ??= new EventLog(this.db)); }
  get volumes(): VolumeStore { return (this._volumes ??= new VolumeStore(this.db)); }
  get networks(): NetworkStore { return (this._networks ??= new NetworkStore(this.db)); }

  close(): void {
    this._db?.close();
    this._db = undefined;
  }
}
