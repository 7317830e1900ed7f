/** The SSRF test's forms, shared by the embedded (test/security/ssrf.test.ts) and Temporal (test/live/ssrf.live.test.ts) runs. */
/** Every way we know of writing "this machine", a private network, or a metadata service. */
export const blockedHosts = [
  "127.0.0.1",
  "127.0.0.1.",
  "[::1]",
  "0.0.0.0",
  "0",
  "[::]",
  "2130706433",
  "0x7f000001",
  "0x7f.1",
  "127.1",
  "0177.0.0.1",
  "017700000001",
  "%31%32%37.0.0.1",
  "[::ffff:127.0.0.1]",
  "[::ffff:7f00:1]",
  "[::127.0.0.1]",
  "[0:0:0:0:0:ffff:127.0.0.1]",
  "localhost",
  "localhost.",
  "LocalHost",
  "waypost.localhost",
  "169.254.169.254",
  "metadata.google.internal",
  "metadata.google.internal.",
  "100.100.100.200",
  "10.0.0.1",
  "172.16.0.1",
  "192.168.0.1",
  "100.64.0.1",
  "224.0.0.1",
  "255.255.255.255",
  "[fe80::1]",
  "[fc00::1]",
  "[64:ff9b::7f00:1]",
  "[2002:7f00:1::]",
];
/** Blocked URLs for an internal listener on port P and an allowlisted partner (127.0.0.2) on port Q, whose /to redirects. */
export const blockedUrls = (P: number, Q: number): string[] => [
  ...blockedHosts.map((host) => `http://${host}:${P}/internal`),
  `https://127.0.0.1:${P}/tls`,
  `http://user:pass@127.0.0.1:${P}/creds`,
  // An allowed partner that redirects into the listener, by address and by name.
  ...[`http://127.0.0.1:${P}/via-redirect`, `http://[::1]:${P}/`, `http://localhost:${P}/`, `http://2130706433:${P}/`].map(
    (target) => `http://127.0.0.2:${Q}/to?location=${encodeURIComponent(target)}`,
  ),
];
