import { rmSync } from 'node:fs';
import { packagedDir } from './packaged-stack';

/** The `template` project's global teardown: removes what its global setup packaged. */
export default function removePackagedStack(): void {
  rmSync(packagedDir(), { recursive: true, force: true });
}
