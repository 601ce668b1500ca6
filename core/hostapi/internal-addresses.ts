// Addresses inside the host's own networks: loopback, private, link-local (the cloud metadata
// address among them), CGNAT, unspecified, NAT64 and 6to4 (which embed an IPv4 address), and IPv4
// mapped into IPv6. net.fetch refuses a name that resolves to one unless the address itself is
// listed; listing one (or a name that is always local) in net.fetch hosts needs an operator's approval.
import { BlockList, isIP } from "node:net";

const internal = new BlockList();
for (const [net, bits] of [
  ["127.0.0.0", 8],
  ["10.0.0.0", 8],
  ["172.16.0.0", 12],
  ["192.168.0.0", 16],
  ["169.254.0.0", 16],
  ["0.0.0.0", 8],
  ["100.64.0.0", 10],
] as const) {
  internal.addSubnet(net, bits, "ipv4");
}
for (const [net, bits] of [
  ["::1", 128],
  ["fc00::", 7],
  ["fe80::", 10],
  ["::", 128],
  ["64:ff9b::", 96],
  ["64:ff9b:1::", 48],
  ["2002::", 16],
  ["::ffff:0:0", 96],
] as const) {
  internal.addSubnet(net, bits, "ipv6");
}

/** Names that always mean this machine or its cloud's metadata service. */
const LOCAL_NAMES = /^(localhost|.*\.localhost|localhost\.localdomain|metadata|metadata\.google\.internal|instance-data|.*\.internal)$/;

export function isInternalAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  return internal.check(address, family === 6 ? "ipv6" : "ipv4");
}

/** A net.fetch hosts entry (`name`, `name:port`, `[v6]:port`, `*.suffix`) that reaches inside. */
export function isInternalHostEntry(entry: string): boolean {
  const host = entry
    .replace(/:(\d+)$/, "")
    .replace(/^\[|\]$/g, "")
    .toLowerCase();
  return isInternalAddress(host) || LOCAL_NAMES.test(host.replace(/^\*\./, "x."));
}
