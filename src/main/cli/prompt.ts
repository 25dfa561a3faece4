import readline from 'node:readline';

/** Asks on the terminal without echoing what is typed. */
export function promptHidden(question: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const rl = readline.createInterface({ input: process.stdin, output: process.stderr, terminal: true });
    const output = rl as unknown as { _writeToOutput?: (s: string) => void };
    process.stderr.write(question);
    // Swallow the echo of typed characters; keep the final newline.
    output._writeToOutput = (s: string) => {
      if (s.includes('\n')) process.stderr.write('\n');
    };
    rl.question('', (answer) => {
      rl.close();
      resolve(answer);
    });
    rl.on('SIGINT', () => {
      rl.close();
      reject(new Error('interrupted'));
    });
  });
}
