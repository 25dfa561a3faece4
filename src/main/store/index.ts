export { atomicWriteFile, ensureStateDir, readFileIfExists, readJsonFile } from './files';
