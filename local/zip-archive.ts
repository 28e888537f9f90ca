import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';
import { inflateRawSync } from 'node:zlib';

const END_OF_CENTRAL_DIRECTORY = 0x06054b50;
const CENTRAL_DIRECTORY_HEADER = 0x02014b50;
const LOCAL_FILE_HEADER = 0x04034b50;
const STORED = 0;
const DEFLATED = 8;

interface ZipEntry {
  readonly name: string;
  readonly method: number;
  readonly compressedSize: number;
  readonly localHeaderAt: number;
}

/**
 * The entries of a zip archive, read from its central directory: no `unzip` needed. Enough for the archives
 * `serverless package` writes: no archive comment longer than 64 KB, no ZIP64.
 */
function centralDirectory(file: string, zip: Buffer): ZipEntry[] {
  let end = zip.length - 22;
  while (end >= 0 && zip.readUInt32LE(end) !== END_OF_CENTRAL_DIRECTORY) end -= 1;
  if (end < 0) throw new Error(`${file} is not a zip archive`);
  const count = zip.readUInt16LE(end + 10);
  let at = zip.readUInt32LE(end + 16);
  const entries: ZipEntry[] = [];
  for (let entry = 0; entry < count; entry += 1) {
    if (zip.readUInt32LE(at) !== CENTRAL_DIRECTORY_HEADER) throw new Error(`${file}: bad central directory`);
    const nameLength = zip.readUInt16LE(at + 28);
    const extraLength = zip.readUInt16LE(at + 30);
    const commentLength = zip.readUInt16LE(at + 32);
    entries.push({
      name: zip.toString('utf8', at + 46, at + 46 + nameLength),
      method: zip.readUInt16LE(at + 10),
      compressedSize: zip.readUInt32LE(at + 20),
      localHeaderAt: zip.readUInt32LE(at + 42),
    });
    at += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}

/** The file names a zip archive holds. */
export function zipEntries(file: string): string[] {
  return centralDirectory(file, readFileSync(file)).map((entry) => entry.name);
}

/** Extracts every file of a zip archive (stored or deflated) under `dir`; returns their paths. */
export function extractZip(file: string, dir: string): string[] {
  const zip = readFileSync(file);
  const root = resolve(dir);
  const written: string[] = [];
  for (const entry of centralDirectory(file, zip)) {
    if (entry.name.endsWith('/')) continue;
    const target = resolve(join(root, entry.name));
    if (!target.startsWith(root + sep))
      throw new Error(`${file}: entry ${entry.name} leaves the target folder`);
    const at = entry.localHeaderAt;
    if (zip.readUInt32LE(at) !== LOCAL_FILE_HEADER)
      throw new Error(`${file}: bad local header for ${entry.name}`);
    const start = at + 30 + zip.readUInt16LE(at + 26) + zip.readUInt16LE(at + 28);
    const data = zip.subarray(start, start + entry.compressedSize);
    if (entry.method !== STORED && entry.method !== DEFLATED) {
      throw new Error(`${file}: ${entry.name} uses compression method ${entry.method}`);
    }
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, entry.method === DEFLATED ? inflateRawSync(data) : data);
    written.push(target);
  }
  return written;
}
