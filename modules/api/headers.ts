// Security headers on every response, errors and 429/503 included. The block is built once per
// server (HSTS only over TLS) and set with one call per response.
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
const FIXED_TLS: Record<string, string> = { ...FIXED, "Strict-Transport-Security": "max-age=31536000; includeSubDomains" };

export function securityHeaders(https: boolean): Readonly<Record<string, string>> {
  return https ? FIXED_TLS : FIXED;
}

export function applySecurityHeaders(reply: FastifyReply, https: boolean): void {
  reply.headers(securityHeaders(https));
}
