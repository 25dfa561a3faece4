'use strict';
/**
 * The RSS floor under any gateway written for Node: node:tls alone, TLS 1.3 only, client
 * certificate required, answering every read with one fixed HTTP response. No HTTP parser, no
 * proxying, no audit. The gateway benchmark loads it as it loads the gateway and reports its peak
 * RSS beside ours (issue 12). Plain CommonJS so that no loader adds to what it measures.
 * Usage: node floor-server.cjs CERT KEY CA; prints `listening PORT`.
 */
const { Buffer } = require('node:buffer');
const fs = require('node:fs');
const tls = require('node:tls');

const [cert, key, ca] = process.argv.slice(2).map((f) => fs.readFileSync(f));
const BODY = '{"ok":true}\n';
const OK = Buffer.from(
  `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${BODY.length}\r\n\r\n${BODY}`,
  'latin1',
);
const server = tls.createServer(
  { cert, key, ca, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.3' },
  (sock) => {
    sock.on('data', () => sock.write(OK));
    sock.on('error', () => sock.destroy());
  },
);
server.listen(0, '127.0.0.1', () => process.stdout.write(`listening ${server.address().port}\n`));
