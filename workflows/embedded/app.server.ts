import type { ActionServices } from "../../nodes/runtime";
import type { JourneyEngine } from "../engine";
import { createEmbeddedEngine, type EmbeddedEngine, type EmbeddedEngineOptions, type EmbeddedEngineServices } from "./engine.server";

/**
 * The embedded engine as the app runs it. What its action nodes do (the channels' messaging
 * service, profile updates that re-evaluate segments) is built by the app, once for both engines
 * (cli/engine-services.ts); the engine only hands itself over, so delivery reports come back to
 * it as `$message.*` events.
 */
export interface EmbeddedAppServices extends EmbeddedEngineServices {
  /** Action services per workspace, given the engine their delivery reports go back to. */
  actionServices(engine: JourneyEngine): (workspaceId: string) => ActionServices;
}

export function createAppEngine(services: EmbeddedAppServices, options: EmbeddedEngineOptions = {}): EmbeddedEngine {
  const { actionServices, ...engineServices } = services;
  // The engine asks for action services only when an action runs, by then `forWorkspace` is set.
  const engine = createEmbeddedEngine(engineServices, { actionServices: (workspaceId) => forWorkspace(workspaceId), ...options });
  const forWorkspace = actionServices(engine);
  return engine;
}
