// Every namespace of every language, bundled so the first render (server and browser) is already
// translated. Each area owns its namespace file; add yours here in both languages.
import enAccounts from "./locales/en/accounts.json";
import enCanvas from "./locales/en/canvas.json";
import enChannels from "./locales/en/channels.json";
import enCommon from "./locales/en/common.json";
import enData from "./locales/en/data.json";
import enEngine from "./locales/en/engine.json";
import enExtensions from "./locales/en/extensions.json";
import enOps from "./locales/en/ops.json";
import enPermissions from "./locales/en/permissions.json";
import enReport from "./locales/en/report.json";
import zhAccounts from "./locales/zh/accounts.json";
import zhCanvas from "./locales/zh/canvas.json";
import zhChannels from "./locales/zh/channels.json";
import zhCommon from "./locales/zh/common.json";
import zhData from "./locales/zh/data.json";
import zhEngine from "./locales/zh/engine.json";
import zhExtensions from "./locales/zh/extensions.json";
import zhOps from "./locales/zh/ops.json";
import zhPermissions from "./locales/zh/permissions.json";
import zhReport from "./locales/zh/report.json";

export const resources = {
  en: { accounts: enAccounts, common: enCommon, canvas: enCanvas, channels: enChannels, data: enData, engine: enEngine, extensions: enExtensions, ops: enOps, permissions: enPermissions, report: enReport },
  zh: { accounts: zhAccounts, common: zhCommon, canvas: zhCanvas, channels: zhChannels, data: zhData, engine: zhEngine, extensions: zhExtensions, ops: zhOps, permissions: zhPermissions, report: zhReport },
} as const;
