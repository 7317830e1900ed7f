import type { ActionFunctionArgs, LoaderFunctionArgs } from "@remix-run/node";
import { aliyunReplies } from "../channels/http.server";

/** Alibaba Cloud SMS upstream replies (SmsUp): "TD"/"退订" become opt-outs. */
export const action = ({ request, context, params }: ActionFunctionArgs) => aliyunReplies(context.services, request, params.token ?? "");
export const loader = ({ request, context, params }: LoaderFunctionArgs) => aliyunReplies(context.services, request, params.token ?? "");
