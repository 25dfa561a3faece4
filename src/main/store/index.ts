export { atomicWriteFile, ensureStateDir, readFileIfExists, readJsonFile } from './files';
export { withStateLock } from './lock';
