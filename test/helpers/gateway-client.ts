import fs from 'node:fs';
import http from 'node:http';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';

/** A keep-alive mTLS client over one TLS socket, sending plain HTTP/1.1 requests one at a time. */
export class KeepAliveClient {
  private buffer = '';
  private waiting: ((text: string) => void) | null = null;
  readonly closed: Promise<number>;

  private constructor(readonly socket: tls.TLSSocket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.buffer += chunk;
      this.tryResolve();
    });
    this.closed = new Promise((resolve) => socket.on('close', () => resolve(Date.now())));
    socket.on('error', () => undefined);
  }

  static connect(port: number, files: { cert: string; key: string; ca: string }): Promise<KeepAliveClient> {
    return new Promise((resolve, reject) => {
      const socket = tls.connect({
        host: '127.0.0.1',
        port,
        servername: 'localhost',
        cert: fs.readFileSync(files.cert),
        key: fs.readFileSync(files.key),
        ca: fs.readFileSync(files.ca),
      });
      socket.once('secureConnect', () => resolve(new KeepAliveClient(socket)));
      socket.once('error', reject);
    });
  }

  /** Sends GET path (with extra raw header lines) and resolves with the status of a Content-Length response. */
  get(path: string, headers = ''): Promise<number> {
    return new Promise((resolve) => {
      this.waiting = (text) => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0));
      this.socket.write(
        `GET ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: keep-alive\r\n${headers}\r\n`,
      );
    });
  }

  private tryResolve(): void {
    const end = this.buffer.indexOf('\r\n\r\n');
    if (end < 0 || !this.waiting) return;
    const length = Number(/content-length: (\d+)/i.exec(this.buffer.slice(0, end))?.[1] ?? 0);
    if (this.buffer.length < end + 4 + length) return;
    const text = this.buffer.slice(0, end + 4 + length);
    this.buffer = this.buffer.slice(end + 4 + length);
    const w = this.waiting;
    this.waiting = null;
    w(text);
  }

  close(): void {
    this.socket.destroy();
  }
}

/** An upstream on loopback that answers 200 and records the requests it received. */
export async function startUpstream(): Promise<{
  port: number;
  requests: http.IncomingHttpHeaders[];
  close: () => Promise<void>;
}> {
  const requests: http.IncomingHttpHeaders[] = [];
  const server = http.createServer((req, res) => {
    requests.push({ ...req.headers, ':path': req.url ?? '' });
    res.setHeader('content-type', 'text/plain');
    res.end('ok');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    requests,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** The fingerprint (sha256, colon hex) of the certificate a fresh handshake is served. */
export function servedFingerprint(
  port: number,
  files: { cert: string; key: string; ca: string },
): Promise<string> {
  return KeepAliveClient.connect(port, files).then((c) => {
    const fp = c.socket.getPeerCertificate().fingerprint256;
    c.close();
    return fp;
  });
}
