import http from 'node:http';

/**
 * The upstream both proxies forward to, in its own process so it does not share the benchmark's
 * event loop: `GET /` answers a small fixed body; `GET /stream` sends an event every 50 ms for up
 * to 15 s (a long-lived response, for the revocation test). Prints `listening PORT` when ready.
 */
const BODY = Buffer.from('{"ok":true,"service":"bench-upstream"}\n');

const server = http.createServer((req, res) => {
  if (req.url === '/stream') {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'x-accel-buffering': 'no' });
    let n = 0;
    const timer = setInterval(() => {
      res.write(`data: ${n++}\n\n`);
      if (n >= 300) {
        clearInterval(timer);
        res.end();
      }
    }, 50);
    res.on('close', () => clearInterval(timer));
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': BODY.length });
  res.end(BODY);
});
// Both proxies keep upstream connections open; do not let the upstream be the one closing them.
server.keepAliveTimeout = 120_000;
server.headersTimeout = 121_000;
server.listen(0, '127.0.0.1', () => {
  const addr = server.address();
  if (addr && typeof addr === 'object') process.stdout.write(`listening ${addr.port}\n`);
});
process.on('SIGTERM', () => process.exit(0));
