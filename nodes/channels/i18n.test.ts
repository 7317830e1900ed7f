import { describe, expect, it } from "vitest";
import en from "../../app/i18n/locales/en/channels.json";
import zh from "../../app/i18n/locales/zh/channels.json";
import { deliveryStates, failureReasons, failureStage } from "./provider";

function keys(value: unknown, prefix = ""): string[] {
  if (typeof value !== "object" || value === null) return [prefix];
  return Object.entries(value).flatMap(([k, v]) => keys(v, prefix ? `${prefix}.${k}` : k));
}

describe("channels i18n", () => {
  it("has the same keys in English and Chinese", () => {
    expect(keys(zh).sort()).toEqual(keys(en).sort());
  });

  it("labels every failure reason, delivery state and stage", () => {
    for (const reason of failureReasons) {
      expect(en.reason[reason], reason).toBeTruthy();
      expect(zh.reason[reason], reason).toBeTruthy();
    }
    for (const state of deliveryStates) expect(en.state[state]).toBeTruthy();
    for (const stage of new Set(Object.values(failureStage))) expect(zh.stage[stage]).toBeTruthy();
  });
});
