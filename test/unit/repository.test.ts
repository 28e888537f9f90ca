import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(__dirname, '../..');

/** The clone's tracked files as git lists them (`<mode> <object> <stage>\t<path>`). */
const trackedFiles = () =>
  execFileSync('git', ['ls-files', '--stage'], { cwd: ROOT, encoding: 'utf8' }).split('\n').filter(Boolean);

describe('the repository', () => {
  // A worktree's node_modules or .venv linked to another clone and committed once replaced the real directories
  // with links to themselves on merge: nothing is tracked as a symbolic link.
  it('tracks no symbolic link', () => {
    const links = trackedFiles()
      .filter((line) => line.startsWith('120000 '))
      .map((line) => line.split('\t')[1]);

    expect(links).toEqual([]);
  });
});
