/** A cell as a table is given it: absent prints as `-`. */
type Cell = string | number | boolean | undefined;

/**
 * Rows as an aligned plain-text table under upper-case headings, the columns those of the first row, in order: the
 * CLI's tables, and the sandbox's. No rows, no table (an empty string).
 */
export function formatTable<Row extends { readonly [K in keyof Row]: Cell }>(rows: readonly Row[]): string {
  const first = rows[0];
  if (first === undefined) return '';
  // The keys of a row are its columns: Object.keys types them as strings only.
  const columns = Object.keys(first) as (keyof Row & string)[];
  const text = (cell: Cell) => (cell === undefined ? '-' : String(cell));
  const widths = columns.map((column) =>
    Math.max(column.length, ...rows.map((row) => text(row[column]).length)),
  );
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, index) => cell.padEnd(widths[index] ?? 0))
      .join('  ')
      .trimEnd();
  return [
    line(columns.map((column) => column.toUpperCase())),
    ...rows.map((row) => line(columns.map((column) => text(row[column])))),
  ].join('\n');
}
