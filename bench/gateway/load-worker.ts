import fs from 'node:fs';
import https from 'node:https';

/**
 * Keep-alive load client, run as its own process: `conns` persistent mTLS connections, each sending
 * sequential GETs. Requests completing in [startAt, startAt + durationMs) (epoch ms) are counted and
 * their latencies kept; prints one JSON line `{count, errors, latMs}` at the end.
 */
interface Args {
  port: number;
  cert: string;
  key: string;
  ca: string;
  conns: number;
  startAt: number;
  durationMs: number;
}

async function main(): Promise<void> {
  const a = JSON.parse(process.argv[2] ?? '{}') as Args;
  const agent = new https.Agent({
    keepAlive: true,
    maxSockets: a.conns,
    cert: fs.readFileSync(a.cert),
    key: fs.readFileSync(a.key),
    ca: fs.readFileSync(a.ca),
    servername: 'localhost',
    minVersion: 'TLSv1.3',
  });
  const endAt = a.startAt + a.durationMs;
  const lat: number[] = [];
  let errors = 0;
  const one = (): Promise<void> =>
    new Promise((resolve) => {
      const t0 = performance.now();
      const req = https.get({ host: '127.0.0.1', port: a.port, path: '/', agent }, (res) => {
        res.resume();
        res.on('end', () => {
          const now = Date.now();
          if (res.statusCode !== 200) errors++;
          else if (now >= a.startAt && now < endAt) lat.push(performance.now() - t0);
          resolve();
        });
      });
      req.on('error', () => {
        errors++;
        setTimeout(resolve, 5);
      });
    });
  const loop = async (): Promise<void> => {
    while (Date.now() < endAt) await one();
  };
  await Promise.all(Array.from({ length: a.conns }, loop));
  agent.destroy();
  process.stdout.write(
    JSON.stringify({ count: lat.length, errors, latMs: lat.map((x) => Math.round(x * 1000) / 1000) }) + '\n',
  );
}

void main().then(() => process.exit(0));
