import net from 'node:net';

/**
 * The long-lived response of the benchmark's upstream: the upstream nginx (bench/gateway/nginx.ts)
 * answers `GET /` itself and passes `GET /stream` here, which sends an event every 50 ms for up to
 * 15 s (for the revocation test). It answers `GET /` too, from pre-built bytes, so it can stand in as
 * the whole upstream when probing by hand; other targets are a 404. Plain sockets, keep-alive, one
 * request at a time, as proxies send them. Prints `listening PORT` when ready.
 */
const BODY = '{"ok":true,"service":"bench-upstream"}\n';
const OK = Buffer.from(
  `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(BODY)}\r\n\r\n${BODY}`,
  'latin1',
);
const NOT_FOUND = Buffer.from('HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n', 'latin1');
const BAD = Buffer.from(
  'HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n',
  'latin1',
);
const STREAM_HEAD = Buffer.from(
  'HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nx-accel-buffering: no\r\ntransfer-encoding: chunked\r\n\r\n',
  'latin1',
);
const HEAD_END = Buffer.from('\r\n\r\n');
const MAX_HEAD = 64 * 1024;

function stream(sock: net.Socket, onEnd: () => void): void {
  sock.write(STREAM_HEAD);
  let n = 0;
  const timer = setInterval(() => {
    const event = `data: ${n++}\n\n`;
    sock.write(`${event.length.toString(16)}\r\n${event}\r\n`);
    if (n >= 300) {
      clearInterval(timer);
      sock.write('0\r\n\r\n');
      onEnd();
    }
  }, 50);
  sock.once('close', () => clearInterval(timer));
}

const server = net.createServer((sock) => {
  sock.setNoDelay(true);
  let buf: Buffer = Buffer.alloc(0);
  let busy = false;
  const next = (): void => {
    while (!busy) {
      const end = buf.indexOf(HEAD_END);
      if (end === -1) {
        if (buf.length > MAX_HEAD) sock.end(BAD);
        return;
      }
      const head = buf.toString('latin1', 0, end);
      // Neither proxy sends a body with GET; a declared one is skipped so framing stays right.
      const length = /\r\ncontent-length:[ \t]*(\d+)/i.exec(head);
      const consumed = end + HEAD_END.length + (length ? Number(length[1]) : 0);
      if (/\r\ntransfer-encoding:/i.test(head)) return void sock.end(BAD);
      if (buf.length < consumed) return;
      buf = buf.subarray(consumed);
      const target = /^[A-Z]+ (\S+) HTTP\/1\.[01](?:\r\n|$)/.exec(head)?.[1];
      if (target === '/') sock.write(OK);
      else if (target === '/stream') {
        busy = true;
        stream(sock, () => {
          busy = false;
          next();
        });
      } else if (target === undefined) return void sock.end(BAD);
      else sock.write(NOT_FOUND);
    }
  };
  sock.on('data', (chunk: Buffer) => {
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
    next();
  });
  sock.on('error', () => undefined);
});
server.listen(0, '127.0.0.1', () => {
  const addr = server.address();
  if (addr && typeof addr === 'object') process.stdout.write(`listening ${addr.port}\n`);
});
process.on('SIGTERM', () => process.exit(0));
