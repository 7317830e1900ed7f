import type { ActionFunctionArgs, LoaderFunctionArgs } from "@remix-run/node";
import { aliyunReport } from "../channels/http.server";

/** Alibaba Cloud SMS delivery receipts (SmsReport), signed per workspace. */
export const action = ({ request, context, params }: ActionFunctionArgs) => aliyunReport(context.services, request, params.token ?? "");
export const loader = ({ request, context, params }: LoaderFunctionArgs) => aliyunReport(context.services, request, params.token ?? "");
