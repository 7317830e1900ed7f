/**
 * The extension's entry: Waypost loads this module (WAYPOST_EXTENSIONS=./extensions/getui) and
 * registers what it default-exports.
 */
import { defineExtension } from "waypost/extension";
import { getuiPush } from "./provider";

export { getuiPush };
export default defineExtension({ apiVersion: 1, providers: [getuiPush] });
