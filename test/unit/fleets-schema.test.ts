import { readFileSync } from 'node:fs';
import YAML from 'yaml';
import { FLEETS_SCHEMA_FILE, fleetsSchemaText } from '../../scripts/write-fleets-schema';

describe('fleets.schema.json', () => {
  it('is the fleet schema as it is now (npm run schema:fleets writes it)', () => {
    expect(readFileSync(FLEETS_SCHEMA_FILE, 'utf8')).toBe(fleetsSchemaText());
  });

  it('is what fleets.yml names for editors', () => {
    const fleetsYml = readFileSync(FLEETS_SCHEMA_FILE.replace(/schema\.json$/, 'yml'), 'utf8');

    expect(fleetsYml.split('\n')[0]).toBe('# yaml-language-server: $schema=./fleets.schema.json');
    expect(YAML.parse(fleetsYml)).toHaveProperty('batch');
  });
});
