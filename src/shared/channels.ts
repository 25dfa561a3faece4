/**
 * Call and event names as plain strings, with no zod: the sandboxed preload cannot `require`
 * node_modules, so it builds `window.mtls` from this module alone. `contract.ts` checks at compile
 * time that these lists and its schemas name exactly the same calls.
 */
export const CHANNEL_PREFIX = 'mtls:';
export const EVENT_PREFIX = 'mtls:event:';
/** The renderer sends this once its listeners are attached; main holds events until then (Electron Fiddle). */
export const RENDERER_READY_CHANNEL = 'mtls:renderer-ready';

export const CALL_NAME_LIST = [
  'status.get',
  'ca.init',
  'vault.unlock',
  'vault.lock',
  'clients.list',
  'clients.chooseExportDir',
  'clients.issue',
  'clients.get',
  'clients.renew',
  'clients.revoke',
  'server.rotate',
  'ca.rollover.status',
  'ca.rollover.start',
  'ca.rollover.retire',
  'audit.query',
  'audit.verify',
  'audit.export',
  'gateway.start',
  'gateway.stop',
  'gateway.configure',
  'settings.autoStart',
  'connections.list',
  'connections.kill',
] as const;

export const EVENT_NAME_LIST = ['connections.changed', 'audit.appended', 'status.changed'] as const;

export type CallNameLiteral = (typeof CALL_NAME_LIST)[number];
export type EventNameLiteral = (typeof EVENT_NAME_LIST)[number];

export function callChannel(name: string): string {
  return CHANNEL_PREFIX + name;
}

export function eventChannel(name: string): string {
  return EVENT_PREFIX + name;
}
