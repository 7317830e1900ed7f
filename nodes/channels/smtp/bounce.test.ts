import { describe, expect, it } from "vitest";
import { parseBounce } from "./bounce";

const dsn = (status: string) =>
  [
    "From: MAILER-DAEMON@relay.example.com",
    "Subject: Undelivered Mail Returned to Sender",
    'Content-Type: multipart/report; report-type=delivery-status; boundary="b1"',
    "",
    "--b1",
    "Content-Type: message/delivery-status",
    "",
    "Reporting-MTA: dns; relay.example.com",
    "",
    "Final-Recipient: rfc822; gone@example.com",
    "Action: failed",
    `Status: ${status}`,
    "Diagnostic-Code: smtp; 550 5.1.1 <gone@example.com>: Recipient address",
    "  rejected: User unknown",
    "",
    "--b1",
    "Content-Type: text/rfc822-headers",
    "",
    "Message-ID: <abc@shop.example.com>",
    "X-Waypost-Message-Id: 6f1c0a52-3d1e-4c55-9a53-0d7c2b8f9e10",
    "--b1--",
  ].join("\r\n");

describe("parseBounce", () => {
  it("reads our message id, the recipient and whether the failure is permanent", () => {
    expect(parseBounce(dsn("5.1.1"))).toEqual({
      messageId: "6f1c0a52-3d1e-4c55-9a53-0d7c2b8f9e10",
      recipient: "gone@example.com",
      permanent: true,
      status: "5.1.1",
      diagnostic: "550 5.1.1 <gone@example.com>: Recipient address rejected: User unknown",
    });
    expect(parseBounce(dsn("4.4.1"))).toMatchObject({ permanent: false });
  });

  it("ignores mail that is not a bounce of ours", () => {
    expect(parseBounce("Subject: hello\r\n\r\nhi")).toBeNull();
  });
});
