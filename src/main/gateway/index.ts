/** The embedded mTLS gateway: a supervised child process (DESIGN.md §2, §8). */
export {
  GatewaySupervisor,
  GatewayStartError,
  gatewayEntryPath,
  type SupervisorOptions,
  type StartOptions,
  type SupervisorLogLine,
  type LogSource,
} from './supervisor';
export {
  ForkLauncher,
  GATEWAY_V8_FLAGS,
  sanitizedEnv,
  type GatewayChild,
  type GatewayLauncher,
} from './launcher';
export * from './protocol';
