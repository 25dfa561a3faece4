export { atomicWriteFile, fsyncDir, tempNameFor } from './files';
