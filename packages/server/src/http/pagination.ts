/**
 * One page of a keyset-paginated read: the route asks for `limit + 1` rows, and the extra row, when
 * there is one, tells that a next page exists, which starts after the last item's key.
 */
export function page<T>(rows: T[], limit: number, key: (row: T) => string): { items: T[]; next: string | null } {
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  return { items, next: rows.length > limit && last !== undefined ? key(last) : null };
}
