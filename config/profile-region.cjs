// Serverless variable source: `${file(./config/profile-region.cjs)}` resolves to the region of the AWS profile the
// deploy uses (--aws-profile, then --profile, then AWS_PROFILE, else "default"), read from the shared config file
// by the SDK's own loader, as the CLI reads it (src/cli/aws-settings.ts). No region there resolves to null, so
// serverless.yml's next fallback applies. The order of the sources is docs/cli.md's region table.
const { loadSharedConfigFiles } = require('@smithy/core/config');

module.exports = async ({ options }) => {
  const profile = options['aws-profile'] || options.profile || process.env.AWS_PROFILE || 'default';
  const { configFile } = await loadSharedConfigFiles();
  return configFile[profile]?.region || null;
};
