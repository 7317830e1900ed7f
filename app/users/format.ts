import { useDateTime as useSharedDateTime } from "../components/useDateTime";

/** Date-time in the operator's language and the workspace zone: the one shared format (app/lib/datetime.ts). */
export function useDateTime() {
  return useSharedDateTime();
}
