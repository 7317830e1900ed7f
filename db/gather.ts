/**
 * Gathering for per-item calls that are cheaper in bulk (one statement for many rows, one commit
 * for many statements). Callers still make one call per item and get their own answer; items that
 * arrive while `parallel` flushes are in flight wait and go together in the next one. Nobody waits
 * for a timer: an idle gatherer flushes at the next turn of the event loop, which is when the
 * other callers started in the same turn (the engine runs up to hundreds of actions at once) have
 * queued theirs.
 */
export interface Gatherer<In, Out> {
  run(item: In): Promise<Out>;
}

export interface GatherOptions<In, Out> {
  /** Most items in one flush. */
  maxBatch?: number;
  /** Flushes in flight at once. */
  parallel?: number;
  /**
   * When a whole flush fails, each of its items is tried alone with this, so one bad item does
   * not fail its neighbours. Without it, every caller of the flush gets the error.
   */
  alone?: (item: In) => Promise<Out>;
}

interface Pending<In, Out> {
  item: In;
  resolve(value: Out): void;
  reject(error: unknown): void;
}

export function createGatherer<In, Out>(flush: (items: In[]) => Promise<Out[]>, options: GatherOptions<In, Out> = {}): Gatherer<In, Out> {
  const maxBatch = options.maxBatch ?? 256;
  const parallel = options.parallel ?? 2;
  const queue: Array<Pending<In, Out>> = [];
  let flushing = 0;
  let scheduled = false;

  const execute = async (batch: Array<Pending<In, Out>>) => {
    try {
      const results = await flush(batch.map((p) => p.item));
      if (results.length !== batch.length) throw new Error(`gatherer: flush answered ${results.length} results for ${batch.length} items`);
      batch.forEach((p, i) => p.resolve(results[i]!));
    } catch (error) {
      if (!options.alone || batch.length === 1) {
        for (const p of batch) p.reject(error);
        return;
      }
      for (const p of batch) await options.alone(p.item).then(p.resolve, p.reject);
    }
  };

  const pump = () => {
    scheduled = false;
    while (flushing < parallel && queue.length > 0) {
      const batch = queue.splice(0, maxBatch);
      flushing++;
      void execute(batch).finally(() => {
        flushing--;
        pump();
      });
    }
  };

  return {
    run(item) {
      return new Promise<Out>((resolve, reject) => {
        queue.push({ item, resolve, reject });
        if (!scheduled && flushing < parallel) {
          scheduled = true;
          setImmediate(pump);
        }
      });
    },
  };
}
