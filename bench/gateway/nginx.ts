import fs from 'node:fs/promises';
import path from 'node:path';

/**
 * The nginx we compare against: the seed recipe's server block (ssl_verify_client on against our CA,
 * ssl_crl, X-Forwarded-* headers) with TLS 1.3 only and HTTP/1.1 keep-alive to the upstream. One
 * worker process, like our one gateway process. Everything lives under `dir`.
 */
export async function writeNginxConf(opts: {
  dir: string;
  port: number;
  upstreamPort: number;
  cert: string;
  key: string;
  ca: string;
  crl: string;
}): Promise<string> {
  const d = opts.dir;
  const conf = `
${await preamble(d)}
  # Buffered like our gateway's audit records (batched every 100 ms).
  access_log ${d}/access.log combined buffer=64k flush=100ms;

  upstream bench_upstream {
    server 127.0.0.1:${opts.upstreamPort};
    keepalive 64;
    keepalive_requests 1000000;
  }

  server {
    listen 127.0.0.1:${opts.port} ssl;
    server_name localhost;

    ssl_protocols TLSv1.3;
    ssl_certificate ${opts.cert};
    ssl_certificate_key ${opts.key};
    ssl_client_certificate ${opts.ca};
    ssl_verify_client on;
    ssl_crl ${opts.crl};

    location / {
      proxy_pass http://bench_upstream;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-Proto https;
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_set_header X-Forwarded-Client-Cert "Hash=$ssl_client_fingerprint;Subject=\\"$ssl_client_s_dn\\"";
      proxy_set_header X-Client-Serial $ssl_client_serial;
    }
  }
}
`;
  const file = path.join(d, 'nginx.conf');
  await fs.writeFile(file, conf);
  return file;
}

/**
 * The upstream both proxies forward to: another nginx, plain HTTP, answering `GET /` from memory
 * (a few µs per request, so the upstream is not what limits either proxy; it shares the client core
 * when the benchmark pins processes). `/stream`, the long-lived response of the revocation test, is
 * passed on unbuffered to the small Node server at `streamPort` (bench/gateway/upstream.ts).
 */
export async function writeUpstreamConf(opts: {
  dir: string;
  port: number;
  streamPort: number;
}): Promise<string> {
  const d = opts.dir;
  const conf = `
${await preamble(d)}
  access_log off;
  # Both proxies keep upstream connections open; do not let the upstream be the one closing them.
  keepalive_timeout 120s;

  server {
    listen 127.0.0.1:${opts.port};
    location = / {
      default_type application/json;
      return 200 '{"ok":true,"service":"bench-upstream"}\\n';
    }
    location = /stream {
      proxy_pass http://127.0.0.1:${opts.streamPort};
      proxy_http_version 1.1;
      proxy_buffering off;
      # Hand the streamer's "no buffering" on to the proxy in front, as if it were the upstream itself.
      proxy_pass_header X-Accel-Buffering;
    }
  }
}
`;
  const file = path.join(d, 'nginx.conf');
  await fs.writeFile(file, conf);
  return file;
}

/** One worker, files under `dir`, and the opening of the http block both configurations share. */
async function preamble(d: string): Promise<string> {
  for (const sub of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) {
    await fs.mkdir(path.join(d, 'tmp', sub), { recursive: true });
  }
  return `worker_processes 1;
pid ${d}/nginx.pid;
error_log ${d}/error.log warn;
events { worker_connections 1024; }
http {
  client_body_temp_path ${d}/tmp/client_body;
  proxy_temp_path ${d}/tmp/proxy;
  fastcgi_temp_path ${d}/tmp/fastcgi;
  uwsgi_temp_path ${d}/tmp/uwsgi;
  scgi_temp_path ${d}/tmp/scgi;
  keepalive_requests 1000000;`;
}
