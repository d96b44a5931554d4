let last = 0;

/**
 * ISO-8601 timestamp that strictly increases within this process, so rows created in the same
 * millisecond still sort in creation order ("newest first" lists).
 */
export function monotonicIso(): string {
  const now = Math.max(Date.now(), last + 1);
  last = now;
  return new Date(now).toISOString();
}
