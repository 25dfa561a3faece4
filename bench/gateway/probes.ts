import tls from 'node:tls';

/** Raw mTLS probes for the benchmark: single attempts, held connections, long-lived responses. */

export interface ClientCreds {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly ca: Buffer;
}

const connectOpts = (port: number, c: ClientCreds): tls.ConnectionOptions => ({
  host: '127.0.0.1',
  port,
  servername: 'localhost',
  cert: c.cert,
  key: c.key,
  ca: c.ca,
  minVersion: 'TLSv1.3',
  maxVersion: 'TLSv1.3',
});

const GET = (p: string, close: boolean): string =>
  `GET ${p} HTTP/1.1\r\nHost: localhost\r\n${close ? 'Connection: close\r\n' : ''}\r\n`;

/**
 * One new full handshake (no session reuse) plus a GET. In TLS 1.3 the client finishes its handshake
 * before the server has judged its certificate, so the verdict is what comes back: `ok` (HTTP 200),
 * `http-NNN` (nginx answers a failed client verification with 400), or `closed`/`error`/`timeout`.
 */
export function attempt(port: number, c: ClientCreds, timeoutMs = 2000): Promise<string> {
  return new Promise((resolve) => {
    let buf = '';
    let done = false;
    const finish = (v: string): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => finish('timeout'), timeoutMs);
    const sock = tls.connect(connectOpts(port, c), () => sock.write(GET('/', true)));
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => {
      buf += d;
      const m = /^HTTP\/1\.1 (\d{3})/.exec(buf);
      if (m) finish(m[1] === '200' ? 'ok' : `http-${m[1]}`);
    });
    sock.on('error', () => finish('error'));
    sock.on('close', () => finish('closed'));
  });
}

/** A held keep-alive connection sending a GET every `everyMs`; records when responses stop and when it closes. */
export class LiveKeepAlive {
  ok = 0;
  lastOkAt = 0;
  closedAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly sock: tls.TLSSocket;

  private constructor(sock: tls.TLSSocket, everyMs: number) {
    this.sock = sock;
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => {
      const n = d.split('HTTP/1.1 200').length - 1;
      if (n > 0) {
        this.ok += n;
        this.lastOkAt = performance.now();
      }
    });
    sock.on('error', () => undefined);
    sock.on('close', () => {
      this.closedAt = performance.now();
      clearInterval(this.timer);
    });
    this.timer = setInterval(() => {
      if (!sock.destroyed) sock.write(GET('/', false));
    }, everyMs);
  }

  static open(port: number, c: ClientCreds, everyMs: number): Promise<LiveKeepAlive> {
    return new Promise((resolve, reject) => {
      const sock = tls.connect(connectOpts(port, c), () => {
        const live = new LiveKeepAlive(sock, everyMs);
        sock.write(GET('/', false));
        const t = setInterval(() => {
          if (live.ok > 0) {
            clearInterval(t);
            resolve(live);
          } else if (live.closedAt) {
            clearInterval(t);
            reject(new Error('keep-alive probe closed before its first response'));
          }
        }, 5);
      });
      sock.once('error', reject);
    });
  }

  close(): void {
    clearInterval(this.timer);
    this.sock.destroy();
  }
}

/** A held long-lived response (`GET /stream`, an event every 50 ms); records the last event and the close. */
export class LiveStream {
  events = 0;
  lastEventAt = 0;
  closedAt = 0;
  private readonly sock: tls.TLSSocket;

  private constructor(sock: tls.TLSSocket) {
    this.sock = sock;
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => {
      const n = d.split('data: ').length - 1;
      if (n > 0) {
        this.events += n;
        this.lastEventAt = performance.now();
      }
    });
    sock.on('error', () => undefined);
    sock.on('close', () => (this.closedAt = performance.now()));
  }

  static open(port: number, c: ClientCreds): Promise<LiveStream> {
    return new Promise((resolve, reject) => {
      const sock = tls.connect(connectOpts(port, c), () => {
        const live = new LiveStream(sock);
        sock.write(GET('/stream', false));
        const t = setInterval(() => {
          if (live.events > 0) {
            clearInterval(t);
            resolve(live);
          } else if (live.closedAt) {
            clearInterval(t);
            reject(new Error('stream probe closed before its first event'));
          }
        }, 5);
      });
      sock.once('error', reject);
    });
  }

  close(): void {
    this.sock.destroy();
  }
}

/** `n` idle keep-alive connections, each having completed one request (for the RSS figure). */
export async function openIdle(port: number, c: ClientCreds, n: number): Promise<tls.TLSSocket[]> {
  const socks = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<tls.TLSSocket>((resolve, reject) => {
          const sock = tls.connect(connectOpts(port, c), () => sock.write(GET('/', false)));
          sock.setEncoding('latin1');
          let buf = '';
          const onData = (d: string): void => {
            buf += d;
            if (buf.includes('HTTP/1.1 200')) {
              sock.off('data', onData);
              resolve(sock);
            }
          };
          sock.on('data', onData);
          sock.once('error', reject);
          sock.once('close', () => reject(new Error('idle probe closed')));
        }),
    ),
  );
  for (const s of socks) s.on('error', () => undefined);
  return socks;
}

/** What a server negotiates with the load client's settings: protocol, cipher suite, key exchange group. */
export function tlsInfo(port: number, c: ClientCreds, timeoutMs = 2000): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error('TLS probe timed out'));
    }, timeoutMs);
    const sock = tls.connect(connectOpts(port, c), () => {
      clearTimeout(timer);
      const kx = sock.getEphemeralKeyInfo();
      const group = kx && 'name' in kx && kx.name ? kx.name : '?';
      const cert = sock.getPeerX509Certificate();
      const key =
        cert?.publicKey.asymmetricKeyDetails?.namedCurve ?? cert?.publicKey.asymmetricKeyType ?? '?';
      resolve(`${sock.getProtocol() ?? '?'} ${sock.getCipher().standardName} ${group}, server key ${key}`);
      sock.destroy();
    });
    sock.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}
