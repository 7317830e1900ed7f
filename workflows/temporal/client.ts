import { readFileSync } from "node:fs";
import {
  Client,
  Connection,
  WorkflowExecutionAlreadyStartedError,
  WorkflowIdReusePolicy,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
} from "@temporalio/client";
import { ApplicationFailure } from "@temporalio/common";
import {
  ENTER_SIGNAL,
  EVENT_SIGNAL,
  HOLD_SIGNAL,
  OPERATE_UPDATE,
  WORKFLOW_TYPE,
  type EnterSignal,
  type EventSignal,
  type HoldSignal,
  type JourneyWorkflowInput,
  type OperatorAction,
  type OperatorOutcome,
  type OperatorRefusal,
} from "./contract";
import type { journeyWorkflow } from "./workflows";

/**
 * Connection settings and the two calls the engine makes to Temporal. The app never imports the
 * workflow code itself (only its type): workflows run in the worker.
 */

export interface TemporalSettings {
  address: string;
  namespace: string;
  taskQueue: string;
  /** TLS without a client certificate (server-authenticated), e.g. with an API key. */
  tls: boolean;
  /** mTLS client certificate and key (PEM files), as Temporal Cloud's certificate auth needs. */
  tlsCertPath?: string;
  tlsKeyPath?: string;
  /** Temporal Cloud API key; implies TLS. */
  apiKey?: string;
}

/** Options the client's and the worker's (native) connection both accept. */
export interface SharedConnectionOptions {
  address: string;
  tls?: true | { clientCertPair: { crt: Buffer; key: Buffer } };
  apiKey?: string;
  metadata?: Record<string, string>;
}

export function connectionOptions(settings: TemporalSettings): SharedConnectionOptions {
  if ((settings.tlsCertPath === undefined) !== (settings.tlsKeyPath === undefined)) {
    throw new Error("TEMPORAL_TLS_CERT_PATH and TEMPORAL_TLS_KEY_PATH must be set together");
  }
  const mtls = settings.tlsCertPath && settings.tlsKeyPath
    ? { clientCertPair: { crt: readFileSync(settings.tlsCertPath), key: readFileSync(settings.tlsKeyPath) } }
    : undefined;
  const tls = mtls ?? (settings.tls || settings.apiKey ? (true as const) : undefined);
  return {
    address: settings.address,
    ...(tls ? { tls } : {}),
    ...(settings.apiKey ? { apiKey: settings.apiKey, metadata: { "temporal-namespace": settings.namespace } } : {}),
  };
}

export async function connectClient(settings: TemporalSettings): Promise<Client> {
  const connection = await Connection.connect(connectionOptions(settings));
  return new Client({ connection, namespace: settings.namespace });
}

/** signalled: the workflow runs (started now or already running); closed: it already ended. */
export type StartOutcome = "signalled" | "closed";

/** What the engine needs from Temporal; tests substitute a recording fake. */
export interface WorkflowGateway {
  /**
   * Signal-with-start for an entry: starts the instance's workflow, or signals the run already
   * there. The id is the instance id and is never reused, so a retried entry cannot start twice.
   */
  enter(input: JourneyWorkflowInput, signal: EnterSignal): Promise<StartOutcome>;
  /** Delivers an event to a running workflow; false when there is none. */
  signal(workflowId: string, signal: EventSignal): Promise<boolean>;
  /**
   * Delivers an event, starting the workflow from `input` (the stored checkpoint) if it never
   * started: the repair for a crash between storing an entry and starting its workflow.
   */
  signalWithStart(input: JourneyWorkflowInput, signal: EventSignal): Promise<StartOutcome>;
  /**
   * An operator action as an Update on the running workflow, answered once its records are
   * stored. `refused`: the workflow's state rules it out; `not_running`: no open workflow.
   */
  operate(workflowId: string, action: OperatorAction): Promise<OperatorOutcome | { refused: OperatorRefusal | "not_running" }>;
  /** Holds or releases a running workflow; false when there is none. */
  hold(workflowId: string, signal: HoldSignal): Promise<boolean>;
  /**
   * Starts a finished instance's workflow id again from `input.resume` (an operator retry): the
   * only start that may reuse an id, since the instance row was revived in the database first.
   */
  restart(input: JourneyWorkflowInput): Promise<void>;
}

export function temporalGateway(client: Client, taskQueue: string): WorkflowGateway {
  const options = (input: JourneyWorkflowInput) => ({
    workflowId: input.instance.instanceId,
    taskQueue,
    args: [input] as [JourneyWorkflowInput],
    workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
    memo: { journeyId: input.instance.journeyId, versionId: input.instance.versionId, userId: input.instance.userId },
  });
  /** Signals a workflow; false when there is none under this id (never started, or already ended). */
  const signalRunning = async (workflowId: string, signal: string, payload: unknown): Promise<boolean> => {
    try {
      await client.workflow.getHandle(workflowId).signal(signal, payload);
      return true;
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) return false;
      throw error;
    }
  };
  const startOrSignal = async (input: JourneyWorkflowInput, signal: string, payload: unknown): Promise<StartOutcome> => {
    try {
      await client.workflow.signalWithStart<typeof journeyWorkflow, [unknown]>(WORKFLOW_TYPE, {
        ...options(input),
        signal,
        signalArgs: [payload],
      });
      return "signalled";
    } catch (error) {
      // REJECT_DUPLICATE: the instance already ran to completion under this id.
      if (error instanceof WorkflowExecutionAlreadyStartedError) return "closed";
      throw error;
    }
  };
  return {
    enter: (input, signal) => startOrSignal(input, ENTER_SIGNAL, signal),
    signalWithStart: (input, signal) => startOrSignal(input, EVENT_SIGNAL, signal),
    async operate(workflowId, action) {
      try {
        return await client.workflow.getHandle(workflowId).executeUpdate<OperatorOutcome, [OperatorAction]>(OPERATE_UPDATE, { args: [action] });
      } catch (error) {
        if (error instanceof WorkflowNotFoundError) return { refused: "not_running" };
        if (error instanceof WorkflowUpdateFailedError && error.cause instanceof ApplicationFailure && error.cause.type) {
          return { refused: error.cause.type as OperatorRefusal };
        }
        // An Update to a workflow that has just completed (its last task raced the call).
        if (isCompletedError(error)) return { refused: "not_running" };
        throw error;
      }
    },
    hold: (workflowId, signal) => signalRunning(workflowId, HOLD_SIGNAL, signal),
    async restart(input) {
      await client.workflow.start<typeof journeyWorkflow>(WORKFLOW_TYPE, {
        ...options(input),
        workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
      });
    },
    signal: (workflowId, signal) => signalRunning(workflowId, EVENT_SIGNAL, signal),
  };
}

function isCompletedError(error: unknown): boolean {
  return error instanceof Error && /workflow execution already completed/i.test(error.message);
}
