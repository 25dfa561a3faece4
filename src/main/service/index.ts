export { ConsoleService, type ConsoleDialogs, type ConsoleServiceOptions } from './console-service';
export { createVaultResolver, type VaultResolver, type VaultResolverOptions } from './vaults';
export { derivedPaths, defaultStateDir, type DerivedPaths } from './paths';
export { ConsoleError } from '../errors';
