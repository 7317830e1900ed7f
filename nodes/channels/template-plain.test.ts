import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compilePlain, renderPlain } from "./template-plain";
import { renderTemplate, renderWithLiquid, type TemplateContext } from "./template";

// Keys that exist, are missing, are inherited from Object.prototype, or mean something to Liquid.
const key = fc.constantFrom("user", "event", "properties", "name", "city", "fare", "id", "missing", "size", "first", "nil", "empty", "constructor", "toString");
const space = fc.constantFrom("", " ", "  ", "\t");
const literal = fc.string({ maxLength: 6, unit: fc.constantFrom("朋", "友", "a", " ", "<", "&", "'", '"', "0") });
const output = fc
  .tuple(space, fc.array(key, { minLength: 1, maxLength: 3 }), space, fc.option(fc.tuple(literal, fc.boolean()), { nil: undefined }), space)
  .map(([a, path, b, fallback, c]) => {
    const filter = fallback === undefined ? "" : ` | default: ${fallback[1] ? `"${fallback[0].replaceAll('"', "")}"` : `'${fallback[0].replaceAll("'", "")}'`}`;
    return `{{${a}${path.join(".")}${b}${filter}${c}}}`;
  });
const text = fc.string({ maxLength: 8, unit: fc.constantFrom("你", "好", "a", " ", "{", "}", "%", "<", "&", "|", ".", ":", "\n") });
const template = fc.array(fc.oneof(output, text), { maxLength: 6 }).map((parts) => parts.join(""));

const scalar = fc.oneof(
  fc.constantFrom("", "林<b>", "O'Brien & \"Co\"", "0", "false", "上海"),
  fc.constantFrom(0, 1, -1.5, 1e21, 3.14),
  fc.boolean(),
  fc.constant(null),
);
const value = fc.oneof(scalar, fc.array(scalar, { maxLength: 2 }), fc.dictionary(key, scalar, { maxKeys: 2 }));
const context = fc
  .record({
    user: fc.dictionary(key, value, { maxKeys: 4 }),
    event: fc.record({ name: fc.constant("ride_completed"), properties: fc.dictionary(key, value, { maxKeys: 3 }) }),
  })
  .map((c) => ({ ...c, user: { ...c.user, id: "u1" } }) as TemplateContext);

describe("plain templates render as Liquid renders them", () => {
  it("for every template the plain path accepts, in plain text and in escaped HTML", () => {
    let accepted = 0;
    fc.assert(
      fc.property(template, context, fc.boolean(), (source, ctx, html) => {
        const plain = compilePlain(source);
        if (!plain) return;
        const rendered = renderPlain(plain, ctx, html);
        if (rendered === undefined) return;
        accepted += 1;
        expect(rendered).toBe(renderWithLiquid(source, ctx, { html }));
      }),
      { numRuns: 3000 },
    );
    // The generator reaches the plain path often enough for the comparison to mean something.
    expect(accepted).toBeGreaterThan(500);
  });

  it("accepts the demo journeys' copy and leaves tags, other filters and whitespace control to Liquid", () => {
    expect(compilePlain('{{ user.name | default: "朋友" }}，送你一张 ¥10 优惠券')).not.toBeNull();
    expect(compilePlain("本次乘车 {{ event.properties.from_station }} → {{ event.properties.to_station }}")).not.toBeNull();
    for (const source of ["{% if user.vip %}VIP{% endif %}", "{{ user.name | upcase }}", "{{- user.name -}}", "{{ nil }}", "{{ user.name | default: 'a' | upcase }}", "{{ user.tags[0] }}"]) {
      expect(compilePlain(source)).toBeNull();
    }
  });

  it("hands arrays, nested objects and very long values back to Liquid", () => {
    const plain = compilePlain("{{ user.tags }}")!;
    expect(renderPlain(plain, { user: { id: "u", tags: ["a", "b"] } }, false)).toBeUndefined();
    expect(compilePlain("{{ user.name.size }}")).toBeNull();
    expect(renderPlain(compilePlain("{{ user.bio }}")!, { user: { id: "u", bio: "x".repeat(20_000) } }, false)).toBeUndefined();
    // …and renderTemplate still gives Liquid's answer for them.
    expect(renderTemplate("{{ user.tags }}", { user: { id: "u", tags: ["a", "b"] } })).toBe(renderWithLiquid("{{ user.tags }}", { user: { id: "u", tags: ["a", "b"] } }));
    expect(renderTemplate("{{ user.name.size }}", { user: { id: "u", name: "abc" } })).toBe("3");
  });
});
