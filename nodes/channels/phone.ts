/**
 * Phone numbers as Alibaba Cloud wants them and as suppressions are keyed: no spaces or dashes,
 * mainland numbers without +86/0086, other countries keep their code.
 */
export function normalisePhone(phone: string): string {
  const compact = phone.replace(/[\s-]/g, "");
  return compact.replace(/^(?:\+86|0086)(?=1\d{10}$)/, "");
}
