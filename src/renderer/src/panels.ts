/**
 * Standalone entry points for benchmarks and tests: the panels read only their stores, so a harness
 * can fill a store (e.g. 100,000 audit records, 50 connections) and mount a panel without main.
 */
export { AuditPanel } from './screens/audit/AuditPanel';
export { AuditList } from './screens/audit/AuditList';
export { ConnectionsPanel } from './screens/connections/ConnectionsPanel';
export { ConnectionsTable } from './screens/connections/ConnectionsTable';
export { useAuditStore } from './stores/audit';
export { useConnectionsStore } from './stores/connections';
export { useStatusStore } from './stores/status';
export { useClientsStore } from './stores/clients';
