// Security headers on every response, errors and 429/503 included.
import type { FastifyReply } from "fastify";

const FIXED: Record<string, string> = {
  "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
  "X-Frame-Options": "DENY",
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "Permissions-Policy": "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), payment=(), usb=(), interest-cohort=()",
  "Cache-Control": "no-store",
  "Cross-Origin-Resource-Policy": "same-origin",
};

export function applySecurityHeaders(reply: FastifyReply, https: boolean): void {
  for (const [k, v] of Object.entries(FIXED)) reply.header(k, v);
  if (https) reply.header("Strict-Transport-Security", "max-age=31536000; includeSubDomains");
  reply.removeHeader("X-Powered-By");
}
