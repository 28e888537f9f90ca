// Jest transform: a .sh file imports as its text, as esbuild's text loader bundles it. The file is read again
// because jest strips a leading #! line from the source it hands to transforms; the cache key covers this file too.
const { createHash } = require('node:crypto');
const { readFileSync } = require('node:fs');

module.exports = {
  process(_source, filename) {
    return { code: `module.exports = ${JSON.stringify(readFileSync(filename, 'utf8'))};` };
  },
  getCacheKey(_source, filename) {
    return createHash('sha256').update(readFileSync(filename)).update(readFileSync(__filename)).digest('hex');
  },
};
