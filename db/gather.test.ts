import { describe, expect, it } from "vitest";
import { createGatherer } from "./gather";

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe("createGatherer", () => {
  it("sends the calls made in one turn together and answers each caller with its own result", async () => {
    const flushes: number[][] = [];
    const g = createGatherer(async (items: number[]) => {
      flushes.push(items);
      return items.map((n) => n * 10);
    });
    const answers = await Promise.all([1, 2, 3, 4].map((n) => g.run(n)));
    expect(answers).toEqual([10, 20, 30, 40]);
    expect(flushes).toEqual([[1, 2, 3, 4]]);
  });

  it("keeps at most `parallel` flushes in flight; what arrives meanwhile goes in the next one, up to maxBatch", async () => {
    const flushes: number[][] = [];
    const release: Array<() => void> = [];
    let inFlight = 0;
    let most = 0;
    const g = createGatherer(
      async (items: number[]) => {
        flushes.push(items);
        inFlight++;
        most = Math.max(most, inFlight);
        await new Promise<void>((resolve) => release.push(resolve));
        inFlight--;
        return items;
      },
      { parallel: 1, maxBatch: 3 },
    );
    const first = g.run(0);
    await tick();
    const rest = [1, 2, 3, 4, 5].map((n) => g.run(n));
    await tick();
    expect(flushes).toEqual([[0]]);
    while (release.length > 0 || flushes.length < 3) {
      release.shift()?.();
      await tick();
    }
    expect(await Promise.all([first, ...rest])).toEqual([0, 1, 2, 3, 4, 5]);
    expect(flushes).toEqual([[0], [1, 2, 3], [4, 5]]);
    expect(most).toBe(1);
  });

  it("tries each item alone when a flush fails, so one bad item fails only its own caller", async () => {
    const g = createGatherer(
      async (items: number[]) => {
        if (items.includes(13)) throw new Error("bad batch");
        return items;
      },
      {
        alone: async (n) => {
          if (n === 13) throw new Error(`13 is refused`);
          return n;
        },
      },
    );
    const answers = await Promise.allSettled([12, 13, 14].map((n) => g.run(n)));
    expect(answers.map((a) => (a.status === "fulfilled" ? a.value : (a.reason as Error).message))).toEqual([12, "13 is refused", 14]);
  });

  it("without `alone`, every caller of a failed flush hears the error; a flush answering the wrong count is an error", async () => {
    const failing = createGatherer(async (): Promise<number[]> => {
      throw new Error("database down");
    });
    const settled = await Promise.allSettled([1, 2].map((n) => failing.run(n)));
    expect(settled.map((s) => s.status)).toEqual(["rejected", "rejected"]);
    const short = createGatherer(async (items: number[]) => items.slice(1));
    await expect(Promise.all([short.run(1), short.run(2)])).rejects.toThrow(/answered 1 results for 2 items/);
  });
});
