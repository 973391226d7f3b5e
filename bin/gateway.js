#!/usr/bin/env node
'use strict';
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const entry = join(__dirname, '..', 'dist', 'apps', 'gateway', 'src', 'main.js');
if (!existsSync(entry)) {
  process.stderr.write('junction: not built yet; run `npm run build` (npm ci does it for you)\n');
  process.exit(2);
}
// `npm start -- --reset-admin-password`: a lost admin password gets a new one at this start only.
require(entry).main({ resetAdminPassword: process.argv.includes('--reset-admin-password') });
