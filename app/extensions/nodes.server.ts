// Route modules import server code from app/*.server.ts only: the browser build drops those.
export { describeExtensionNodes } from "../../nodes/extension/describe.server";
