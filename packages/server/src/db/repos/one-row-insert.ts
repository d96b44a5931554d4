import { getTableColumns, sql } from 'drizzle-orm';
import type { SQLiteTable } from 'drizzle-orm/sqlite-core';

/**
 * The VALUES of a single-row INSERT into `table` to prepare once (SQLite): every column a named
 * placeholder (its property name), bound at each run by {@link bindRow}.
 */
export function placeholderRow<T extends SQLiteTable>(table: T): T['$inferInsert'] {
  const names = Object.keys(getTableColumns(table));
  return Object.fromEntries(names.map((k) => [k, sql.placeholder(k)])) as T['$inferInsert'];
}

/** The parameters for a {@link placeholderRow} statement: every column of `table`, NULL where `row` has none. */
export function bindRow(table: SQLiteTable, row: object): Record<string, unknown> {
  const values = row as Record<string, unknown>;
  const bound: Record<string, unknown> = {};
  for (const k of Object.keys(getTableColumns(table))) bound[k] = values[k] ?? null;
  return bound;
}
