import { describe, expect, it } from "vitest";
import { renderContent, renderTemplate, TemplateError } from "./template";

describe("renderContent", () => {
  const ctx = { user: { id: "u1", name: "林<b>", coupon: "WB10" } };

  it("renders every field, template params and data", () => {
    expect(
      renderContent({ title: "{{ user.name }}", body: "券 {{ user.coupon }}", templateParams: { code: "{{ user.coupon }}" }, data: { c: "{{ user.coupon }}" } }, ctx),
    ).toEqual({ title: "林<b>", body: "券 WB10", templateParams: { code: "WB10" }, data: { c: "WB10" } });
  });

  it("escapes user data in email HTML but not in the text part", () => {
    expect(renderContent({ html: "<p>{{ user.name }}</p>", text: "{{ user.name }}" }, ctx)).toEqual({ html: "<p>林&lt;b&gt;</p>", text: "林<b>" });
  });

  it("names the broken field and cannot read files", () => {
    expect(() => renderContent({ subject: "{{ user.name | nosuchfilter }}" }, ctx)).toThrow(TemplateError);
    expect(() => renderContent({ subject: "{{ user.name | nosuchfilter }}" }, ctx)).toThrow(/^subject:/);
    expect(() => renderContent({ body: "{% include 'etc/passwd' %}" }, ctx)).toThrow(TemplateError);
  });
});

describe("parsed-template cache", () => {
  it("renders the same template for different users with each user's own data", () => {
    const source = "你好 {{ user.name | default: '朋友' }}";
    expect(renderTemplate(source, { user: { id: "a", name: "李雷" } })).toBe("你好 李雷");
    expect(renderTemplate(source, { user: { id: "b" } })).toBe("你好 朋友");
    expect(renderTemplate(source, { user: { id: "c", name: "<b>" } })).toBe("你好 <b>");
  });

  it("keeps reporting a broken template every time, not only on first parse", () => {
    expect(() => renderTemplate("{{ user.name ", { user: { id: "a" } })).toThrow(TemplateError);
    expect(() => renderTemplate("{{ user.name ", { user: { id: "a" } })).toThrow(TemplateError);
  });
});
