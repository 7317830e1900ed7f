/**
 * Canvas benchmark (`npm run bench:canvas`, not part of the test suite).
 *
 * Opens a 20-node and a 500-node journey in Debian's Chromium and prints, for each:
 * - time to interactive: from navigation start until the client has rendered and measured the
 *   cards in view (the editor is hydrated and every visible card can be dragged), median of runs;
 * - frame times while dragging a card and while panning the canvas.
 *
 * A frame's time is the main-thread work one pointer move causes: event handling, React
 * render, style, layout and paint (see `frameTimes`).
 * Targets at 500 nodes: < 1500 ms to interactive, median frame < 16 ms.
 */
import { existsSync } from "node:fs";
import { availableParallelism, loadavg } from "node:os";
import { chromium, type Browser, type Page } from "playwright-core";
import { fromDocument, toDocument } from "../app/canvas/model";
import { layoutNodes } from "../app/canvas/layout";
import { createJourney } from "../app/lib/journeys.server";
import { getNodeDefinition } from "../nodes/registry";
import { JOURNEY_SCHEMA_VERSION, type JourneyDocument } from "../workflows/document";
import { startTestApp } from "../test/support/app";
import { CHROMIUM_PATH } from "../test/support/browser";

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const STEPS = 120;

/**
 * A realistic large journey: repeated blocks of wait-for-event → push / wait → condition → SMS,
 * each ending in its own exit, laid out by the canvas's own auto-layout.
 */
function benchJourney(size: number): JourneyDocument {
  const nodes: JourneyDocument["nodes"] = [];
  const edges: JourneyDocument["edges"] = [];
  const add = (id: string, type: string, config: unknown) => nodes.push({ id, type, typeVersion: getNodeDefinition(type)!.version, config, position: { x: 0, y: 0 } });
  const wire = (source: string, port: string, target: string) => edges.push({ id: `${source}.${port}`, source, sourcePort: port, target });
  add("trigger", "core.trigger", { source: "event", event: "signed_up", filters: [] });
  let previous = { id: "trigger", port: "next" };
  for (let b = 0; nodes.length + 6 <= size - 1; b++) {
    const id = (name: string) => `${name}_${b}`;
    add(id("wait_order"), "core.wait-for-event", { event: "order_completed", filters: [], timeout: { amount: 24, unit: "hours" } });
    add(id("push"), "core.push", { title: `第 ${b + 1} 轮 · Round ${b + 1}`, body: '{{ user.name | default: "朋友" }}，优惠券已到账', category: "marketing", quietHours: "defer" });
    add(id("wait"), "core.wait", { mode: "duration", duration: { amount: 1, unit: "days" } });
    add(id("vip"), "core.condition", { mode: "yes_no", match: "all", rules: [{ kind: "trait", trait: "lifetime_value", op: "gte", value: 500 }] });
    add(id("sms"), "core.sms", { body: "【Waypost】新人红包已到账 回TD退订", templateParams: {}, category: "marketing" });
    add(id("exit"), "core.exit", {});
    wire(previous.id, previous.port, id("wait_order"));
    wire(id("wait_order"), "happened", id("push"));
    wire(id("wait_order"), "timed_out", id("wait"));
    wire(id("push"), "sent", id("exit"));
    wire(id("push"), "failed", id("exit"));
    wire(id("wait"), "next", id("vip"));
    wire(id("vip"), "yes", id("sms"));
    wire(id("sms"), "sent", id("exit"));
    wire(id("sms"), "failed", id("exit"));
    previous = { id: id("vip"), port: "no" };
  }
  while (nodes.length < size - 1) {
    const id = `tail_wait_${nodes.length}`;
    add(id, "core.wait", { mode: "duration", duration: { amount: 1, unit: "hours" } });
    wire(previous.id, previous.port, id);
    previous = { id, port: "next" };
  }
  add("end", "core.exit", {});
  wire(previous.id, previous.port, "end");
  const document: JourneyDocument = {
    schemaVersion: JOURNEY_SCHEMA_VERSION,
    name: `Benchmark · ${size} nodes`,
    settings: { entry: { rule: "once" }, holdoutPercent: 0, exitEvents: [] },
    nodes,
    edges,
  };
  const canvas = fromDocument(document);
  return toDocument({ ...canvas, nodes: layoutNodes(canvas.nodes, canvas.edges) });
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const p95 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * 0.95))];

/** Navigation start → the first frame where the client has measured the cards in view. */
interface Load {
  ms: number;
  rendered: number;
  /** Server response complete, and scripts parsed and run (DOMContentLoaded), in ms. */
  response: number;
  domReady: number;
}

async function timeToInteractive(page: Page, url: string): Promise<Load> {
  await page.goto(url, { waitUntil: "commit" });
  return page.evaluate(
    () =>
      new Promise<Load>((resolve) => {
        const check = () => {
          const cards = document.querySelectorAll<HTMLElement>(".react-flow__node");
          // React Flow hides a card until it has measured it on the client.
          if (cards.length > 0 && [...cards].every((c) => getComputedStyle(c).visibility !== "hidden")) {
            performance.mark("wp-ready");
            const nav = performance.getEntriesByType("navigation")[0] as PerformanceNavigationTiming;
            resolve({ ms: performance.now(), rendered: cards.length, response: nav.responseEnd, domReady: nav.domContentLoadedEventEnd });
          } else requestAnimationFrame(check);
        };
        check();
      }),
  );
}

/**
 * Presses at `from`, then moves by `step` once per frame with synthetic mouse events (the ones
 * React Flow's d3 drag and zoom handlers listen to). Each move is dispatched at the start of a
 * frame; a message posted then runs right after that frame's rendering (style, layout, paint),
 * so the time between the two is the main-thread cost of the frame the move caused. Unlike the
 * gap between animation frames it does not include waiting for the display's 60 Hz tick, which
 * headless Chromium keeps even with the frame-rate limit flags.
 */
async function frameTimes(page: Page, target: string, from: { x: number; y: number }, step: { x: number; y: number }): Promise<number[]> {
  return page.evaluate(
    async ({ target, from, step, steps }) => {
      const element = document.querySelector(target)!;
      const event = (type: string, x: number, y: number) => new MouseEvent(type, { clientX: x, clientY: y, bubbles: true, cancelable: true, view: window, button: 0, buttons: 1 });
      const channel = new MessageChannel();
      const afterFrame = (move: () => void) =>
        new Promise<number>((resolve) => {
          requestAnimationFrame(() => {
            const start = performance.now();
            move();
            channel.port1.onmessage = () => resolve(performance.now() - start);
            channel.port2.postMessage(null);
          });
        });
      await afterFrame(() => element.dispatchEvent(event("mousedown", from.x, from.y)));
      const times: number[] = [];
      for (let i = 1; i <= steps; i++) {
        times.push(
          await afterFrame(() => {
            performance.mark("wp-step");
            window.dispatchEvent(event("mousemove", from.x + step.x * i, from.y + step.y * i));
          }),
        );
      }
      await afterFrame(() => performance.mark("wp-step"));
      window.dispatchEvent(event("mouseup", from.x + step.x * steps, from.y + step.y * steps));
      return times;
    },
    { target, from, step, steps: STEPS },
  );
}

interface TraceEvent {
  name: string;
  ph: string;
  ts: number;
  /** Thread time: CPU this thread had used when the event happened (µs). */
  tts?: number;
  dur?: number;
  tdur?: number;
  pid: number;
  tid: number;
}

/**
 * The machine this runs on may be busy (other builds and test suites), which stretches every
 * wall-clock figure. Chromium's trace also records thread time: CPU the page's main thread
 * itself used, whatever else the machine is doing. `mark` names the performance marks that
 * delimit the measurement (emitted by the page on its main thread).
 */
async function traced<T>(browser: Browser, page: Page, mark: string, work: () => Promise<T>): Promise<{ result: T; marks: TraceEvent[]; tasks: TraceEvent[] }> {
  await browser.startTracing(page, { categories: ["blink.user_timing", "disabled-by-default-devtools.timeline"] });
  const result = await work();
  const events = (JSON.parse((await browser.stopTracing()).toString()) as { traceEvents: TraceEvent[] }).traceEvents;
  const marks = events.filter((e) => e.name === mark).sort((a, b) => a.ts - b.ts);
  const main = marks[0];
  const tasks = events.filter((e) => e.ph === "X" && e.name === "RunTask" && e.pid === main?.pid && e.tid === main?.tid);
  return { result, marks, tasks };
}

/** CPU (ms) the main thread used between consecutive marks. */
function cpuBetween(marks: TraceEvent[]): number[] {
  return marks.slice(1).map((m, i) => ((m.tts ?? 0) - (marks[i].tts ?? 0)) / 1000);
}

async function main() {
  if (!existsSync("build/index.js")) throw new Error("Build the app first: npx remix build (npm run bench:canvas does).");
  const app = await startTestApp({ serve: true });
  const operator = await app.addOperator("marketer");
  const actor = { workspaceId: app.workspaceId, operatorId: operator.id };
  const sizes = [20, 500];
  const journeys = new Map<number, string>();
  for (const size of sizes) journeys.set(size, (await createJourney(app.services.db, actor, { name: `Benchmark ${size}`, document: benchJourney(size) })).id);

  const browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 }, locale: "en-US" });
  // tsx keeps function names with a `__name` helper; functions sent to the page need it too.
  await page.addInitScript("window.__name = (fn) => fn");
  await page.goto(`${app.url}/login`);
  await page.getByLabel("Email").fill(operator.email);
  await page.getByLabel("Password").fill(operator.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(/\/journeys$/);

  const load = loadavg()[0];
  const results: Array<{ size: number; loads: Load[]; loadCpu: number; drag: number[]; pan: number[]; dragCpu: number[]; panCpu: number[]; moved: boolean; panned: boolean }> = [];
  for (const size of sizes) {
    const url = `${app.url}/journeys/${journeys.get(size)}`;
    const loads: Load[] = [];
    // The first load warms the browser's cache of the app's scripts, as for a returning operator.
    await timeToInteractive(page, url);
    for (let run = 0; run < RUNS; run++) loads.push(await timeToInteractive(page, url));
    // Main-thread CPU from the start of the navigation to interactive: every task the page ran.
    const loadTrace = await traced(browser, page, "wp-ready", () => timeToInteractive(page, url));
    const loadCpu = loadTrace.tasks.filter((t) => t.ts <= loadTrace.marks[0].ts).reduce((sum, t) => sum + (t.tdur ?? 0), 0) / 1000;
    await page.waitForTimeout(500);
    const card = page.locator(".react-flow__node").first();
    const id = await card.getAttribute("data-id");
    const before = await card.getAttribute("style");
    const box = (await card.boundingBox())!;
    const dragTrace = await traced(browser, page, "wp-step", () => frameTimes(page, `.react-flow__node[data-id="${id}"] .wp-node-head`, { x: box.x + 40, y: box.y + 14 }, { x: 2, y: 1 }));
    const drag = dragTrace.result;
    const moved = (await page.locator(`.react-flow__node[data-id="${id}"]`).getAttribute("style")) !== before;
    const viewportBefore = await page.locator(".react-flow__viewport").getAttribute("style");
    const pane = (await page.locator(".react-flow__pane").boundingBox())!;
    const panTrace = await traced(browser, page, "wp-step", () => frameTimes(page, ".react-flow__pane", { x: pane.x + pane.width - 80, y: pane.y + 40 }, { x: -3, y: 2 }));
    const pan = panTrace.result;
    const panned = (await page.locator(".react-flow__viewport").getAttribute("style")) !== viewportBefore;
    results.push({ size, loads, loadCpu, drag, pan, dragCpu: cpuBetween(dragTrace.marks), panCpu: cpuBetween(panTrace.marks), moved, panned });
  }
  await browser.close();
  await app.close();

  const f = (n: number) => n.toFixed(1);
  console.log(`\nCanvas benchmark — Chromium ${browser.version()}, viewport 1440×900, ${RUNS} loads per journey, ${STEPS} frames per gesture`);
  console.log(`load average ${load.toFixed(1)} → ${loadavg()[0].toFixed(1)} on ${availableParallelism()} cores (wall-clock figures stretch with it; CPU figures do not)\n`);
  console.log(`${"".padEnd(42)}${sizes.map((s) => `${s} nodes`.padStart(12)).join("")}   target @500`);
  const row = (label: string, values: number[], target = "") => console.log(`${label.padEnd(42)}${values.map((v) => f(v).padStart(12)).join("")}   ${target}`);
  const loadMedian = (r: (typeof results)[number], key: keyof Load) => median(r.loads.map((l) => l[key]));
  row("time to interactive, median (ms)", results.map((r) => loadMedian(r, "ms")), "< 1500");
  row("  server response complete (ms)", results.map((r) => loadMedian(r, "response")));
  row("  DOMContentLoaded (ms)", results.map((r) => loadMedian(r, "domReady")));
  row("  page main-thread CPU until then (ms)", results.map((r) => r.loadCpu));
  row("time to interactive, worst (ms)", results.map((r) => Math.max(...r.loads.map((l) => l.ms))));
  console.log(`${"cards rendered (in view)".padEnd(42)}${results.map((r) => String(r.loads[0].rendered).padStart(12)).join("")}`);
  row("drag a card: median frame (ms)", results.map((r) => median(r.drag)), "< 16");
  row("drag a card: p95 frame (ms)", results.map((r) => p95(r.drag)));
  row("drag a card: median frame CPU (ms)", results.map((r) => median(r.dragCpu)));
  row("pan the canvas: median frame (ms)", results.map((r) => median(r.pan)), "< 16");
  row("pan the canvas: p95 frame (ms)", results.map((r) => p95(r.pan)));
  row("pan the canvas: median frame CPU (ms)", results.map((r) => median(r.panCpu)));
  for (const r of results) {
    if (!r.moved || !r.panned) console.log(`warning: at ${r.size} nodes the ${r.moved ? "pan" : "drag"} did not move anything; figures are not meaningful`);
  }
}

await main();
