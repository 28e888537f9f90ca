import { readFileSync } from 'node:fs';

// Local scripts run under tsx as CommonJS: .sh files load as their text, as esbuild's text loader bundles them
// into the functions. Import this before anything that reaches the launcher.
require.extensions['.sh'] = (module, filename) => {
  module.exports = readFileSync(filename, 'utf8');
};
