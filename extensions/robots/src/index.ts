/** Entry: WAYPOST_EXTENSIONS=./extensions/robots adds both robot nodes to the palette. */
import { defineExtension } from "waypost/extension";
import { dingtalkRobot } from "./dingtalk";
import { wecomRobot } from "./wecom";

export { dingtalkRobot, wecomRobot };
export default defineExtension({ apiVersion: 1, nodes: [dingtalkRobot, wecomRobot] });
