// nodehttp: node:http and node:https loaded through require. An ESM `import … from 'node:http'` builds the module
// namespace from every export, which triggers Node's lazy getters (its bundled fetch/WebSocket client) and costs
// ~15 MB resident in every process; require() leaves them unloaded.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export const http: typeof import('node:http') = require('node:http');
export const https: typeof import('node:https') = require('node:https');
