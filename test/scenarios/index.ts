import type { Scenario } from "./format";
import { winBack } from "./cases/win-back";
import { registeredNoOrder } from "./cases/registered-no-order";
import { firstOrder } from "./cases/first-order";
import { fareNotice } from "./cases/fare-notice";
import { everyNode } from "./cases/every-node";
import { entryConcurrentCaps, entryCooldown, entryOnce } from "./cases/entry-rules";
import { goalAndExit } from "./cases/goal-and-exit";
import { holdout } from "./cases/holdout";
import { dst, localWeekday, zoneFallback } from "./cases/time-zones";
import { editedWhileInside } from "./cases/versions";
import { deliveryPolicies } from "./cases/delivery-policies";
import { scheduled } from "./cases/schedule";

/** Every scenario: run by the simulator (run-on-simulator.test.ts) and by the embedded engine. */
export const scenarios: Scenario[] = [
  winBack,
  registeredNoOrder,
  firstOrder,
  fareNotice,
  everyNode,
  entryOnce,
  entryCooldown,
  entryConcurrentCaps,
  goalAndExit,
  holdout,
  dst,
  localWeekday,
  zoneFallback,
  editedWhileInside,
  deliveryPolicies,
  scheduled,
];

export type { Scenario } from "./format";
export { observe } from "./format";
