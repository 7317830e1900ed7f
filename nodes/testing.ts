import type { ActionContext, ActionServices, FetchLike, SendMessageRequest, SendMessageResponse, UpdateUserRequest } from "./runtime";

/**
 * Test harness for node runtimes (also for third-party nodes): an ActionContext whose services
 * record every call and answer with what the test scripts.
 */
export interface FakeServices extends ActionServices {
  sent: SendMessageRequest[];
  updates: UpdateUserRequest[];
  requests: Array<{ url: string; method: string; headers: Record<string, string>; body?: string }>;
}

export function fakeServices(options: {
  send?: (request: SendMessageRequest) => SendMessageResponse | Promise<SendMessageResponse>;
  update?: (request: UpdateUserRequest) => void | Promise<void>;
  fetch?: (url: string) => { status: number; body?: string } | Promise<{ status: number; body?: string }>;
} = {}): FakeServices {
  const services: FakeServices = {
    sent: [],
    updates: [],
    requests: [],
    async sendMessage(request) {
      services.sent.push(request);
      return options.send ? options.send(request) : { status: "sent", messageId: `m-${services.sent.length}` };
    },
    async updateUser(request) {
      services.updates.push(request);
      await options.update?.(request);
    },
    fetch: (async (url, init) => {
      services.requests.push({ url, method: init.method, headers: init.headers, ...(init.body !== undefined ? { body: init.body } : {}) });
      const answer = options.fetch ? await options.fetch(url) : { status: 200, body: "ok" };
      return { status: answer.status, ok: answer.status >= 200 && answer.status < 300, text: async () => answer.body ?? "" };
    }) satisfies FetchLike,
  };
  return services;
}

export function actionContext(services: ActionServices, overrides: Partial<ActionContext> = {}): ActionContext {
  return {
    workspaceId: "ws",
    journeyId: "j",
    versionId: "v1",
    instanceId: "i1",
    nodeId: "node",
    user: { id: "u1", traits: { name: "小王", orders_count: 3 }, timezone: "Asia/Shanghai" },
    idempotencyKey: "i1:node:1",
    attempt: 1,
    now: Date.parse("2024-05-01T03:00:00Z"),
    services,
    ...overrides,
  };
}
