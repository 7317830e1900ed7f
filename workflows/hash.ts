/**
 * Small pure hashes (docs/decisions/0102-fnv1a-murmur-finalizer.md). FNV-1a over UTF-8 is
 * trivial to reimplement in SQL or another language; its weak avalanche on near-identical
 * inputs ("user-1", "user-2") is fixed by murmur3's 32-bit finalizer, which is what makes
 * split proportions come out right for sequential user ids.
 */

const encoder = new TextEncoder();

function fnv1a32(bytes: Uint8Array, basis: number): number {
  let h = basis >>> 0;
  for (const byte of bytes) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

function fmix32(input: number): number {
  let h = input >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

/** Parts are joined with U+001F so ("a:b","c") and ("a","b:c") never collide. */
function join(parts: readonly string[]): Uint8Array {
  return encoder.encode(parts.join("\u001f"));
}

export function hash32(...parts: string[]): number {
  return fmix32(fnv1a32(join(parts), 0x811c9dc5));
}

/** A deterministic draw in [0, 1) for the given parts, e.g. (userId, nodeId). */
export function unitHash(...parts: string[]): number {
  return hash32(...parts) / 4294967296;
}

/** 64-bit content hash as 16 hex chars (two independent 32-bit lanes); not for security. */
export function contentHash(text: string): string {
  const bytes = encoder.encode(text);
  const a = fmix32(fnv1a32(bytes, 0x811c9dc5));
  const b = fmix32(fnv1a32(bytes, 0x050c5d1f) ^ bytes.length);
  return a.toString(16).padStart(8, "0") + b.toString(16).padStart(8, "0");
}

/** JSON with sorted object keys, so equal values always hash equally. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? "null" : canonicalJson(v))).join(",")}]`;
  const entries = Object.keys(value as Record<string, unknown>)
    .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
  return `{${entries.join(",")}}`;
}
