import { runCli } from './main';

// The installed command's entry: scripts/build-cli.mjs bundles it into dist/cli.mjs, package.json's `bin`.
runCli(process.argv.slice(2), {
  out: (text) => console.log(text),
  err: (text) => console.error(text),
}).then((code) => {
  process.exitCode = code;
});
