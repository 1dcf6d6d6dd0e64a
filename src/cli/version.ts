// The version, injected at build time from package.json.
declare const BERTH_VERSION: string | undefined;
export const VERSION: string = typeof BERTH_VERSION === 'string' ? BERTH_VERSION : '0.0.0-dev';
