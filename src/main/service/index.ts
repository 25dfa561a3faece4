export { ConsoleService, type ConsoleDialogs, type ConsoleServiceOptions } from './console-service';
export { createVaultResolver, type VaultResolver, type VaultResolverOptions } from './vaults';
export { statePaths, defaultStateDir, type StatePaths } from './paths';
export { ConsoleError } from '../errors';
