// Writes fleets.schema.json, the fleets file's JSON Schema for editors, from the functions' own fleet schema
// (src/model/fleet-spec.ts): `npm run schema:fleets` after a change to it. test/unit/fleets-schema.test.ts fails
// while the committed file is stale.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildFleetsJsonSchema } from '../src/model/fleet-spec';

/** The file's text: the schema, two-space indented, as the test compares it. */
export const fleetsSchemaText = () => `${JSON.stringify(buildFleetsJsonSchema(), null, 2)}\n`;

export const FLEETS_SCHEMA_FILE = join(__dirname, '..', 'fleets.schema.json');

if (require.main === module) writeFileSync(FLEETS_SCHEMA_FILE, fleetsSchemaText());
