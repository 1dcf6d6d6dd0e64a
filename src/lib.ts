// The embeddable library: `import { Engine, loadConfig } from 'berth'`.
export { Engine } from './engine/engine.js';
export type { CreateOptions, AttachStreams, AttachSession } from './engine/engine.js';
export { loadConfig, type EngineConfig } from './engine/config.js';
export { BerthError, type ErrorKind } from './engine/errors.js';
