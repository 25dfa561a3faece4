#!/usr/bin/env node
'use strict';
// The CLI runs from the built bundle so that it starts fast; `npm install` builds it.
const path = require('node:path');
const fs = require('node:fs');
const entry = path.join(__dirname, '..', 'out', 'main', 'cli.js');
if (!fs.existsSync(entry)) {
  process.stderr.write(
    'mtls-console: not built yet; run `npm run build` in ' + path.join(__dirname, '..') + '\n',
  );
  process.exit(1);
}
require(entry);
