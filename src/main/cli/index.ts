import { runCli } from './run';

// Entry of `npx mtls-console`: exit codes 0 / 1 / 2, one clear line on stderr on failure.
void runCli(process.argv.slice(2), {
  out: (text) => process.stdout.write(text + '\n'),
  err: (text) => process.stderr.write(text + '\n'),
}).then((code) => {
  process.exitCode = code;
});
