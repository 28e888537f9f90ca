// The SDK warns once per process that Node 20 support ends in 2027. Local runs and CI use Node 20 on purpose (the
// functions run on Lambda's nodejs24.x), so that one warning is dropped; every other warning still shows.
const emitWarning = process.emitWarning.bind(process);
process.emitWarning = ((warning: string | Error, ...rest: never[]) => {
  if (String(warning).includes('NodeVersionSupportWarning')) return;
  emitWarning(warning, ...rest);
}) as typeof process.emitWarning;
