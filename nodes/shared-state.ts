/**
 * State that must be one per process although the code holding it may be loaded more than once:
 * the Remix server build bundles its own copy of nodes/ and workflows/, while the CLI, the
 * engines' workers and the extension loader run the source modules. Extension node types are
 * registered once (at start, by the loader) and must be seen by every copy (decision 0901).
 */
export function processShared<T>(key: string, create: () => T): T {
  const store = globalThis as unknown as Record<symbol, unknown>;
  const symbol = Symbol.for(`waypost.${key}`);
  if (!(symbol in store)) store[symbol] = create();
  return store[symbol] as T;
}
