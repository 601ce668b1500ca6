// Warden API tokens: `wdn_` + id (12) + secret (32) + checksum (6), all base62. The CRC32 checksum
// lets a secret scanner recognise a Warden token offline without asking the host (GitHub's scheme).
import { randomBytes } from "node:crypto";
import { crc32 } from "node:zlib";

const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
export const PREFIX = "wdn_";
const ID_LEN = 12;
const SECRET_LEN = 32;
const CHECK_LEN = 6;
export const TOKEN_LENGTH = PREFIX.length + ID_LEN + SECRET_LEN + CHECK_LEN;
const SHAPE = new RegExp(`^${PREFIX}[0-9A-Za-z]{${ID_LEN + SECRET_LEN + CHECK_LEN}}$`);

function randomBase62(n: number): string {
  let out = "";
  while (out.length < n) {
    for (const b of randomBytes(n * 2)) {
      // 62 * 4 = 248: rejecting bytes >= 248 keeps every character equally likely.
      if (b < 248 && out.length < n) out += ALPHABET[b % 62];
    }
  }
  return out;
}

function base62(n: number, width: number): string {
  let out = "";
  for (let i = 0; i < width; i++) {
    out = ALPHABET[n % 62] + out;
    n = Math.floor(n / 62);
  }
  return out;
}

function checksum(body: string): string {
  return base62(crc32(body) >>> 0, CHECK_LEN);
}

export function newTokenId(): string {
  return randomBase62(ID_LEN);
}

export function newToken(id: string): { token: string; secret: string } {
  const secret = randomBase62(SECRET_LEN);
  const body = PREFIX + id + secret;
  return { token: body + checksum(body), secret };
}

/** Splits a presented token, or undefined when it is not shaped like one (or its checksum is wrong). */
export function parseToken(token: string): { id: string; secret: string } | undefined {
  if (typeof token !== "string" || token.length !== TOKEN_LENGTH || !SHAPE.test(token)) return undefined;
  const body = token.slice(0, -CHECK_LEN);
  if (checksum(body) !== token.slice(-CHECK_LEN)) return undefined;
  return { id: body.slice(PREFIX.length, PREFIX.length + ID_LEN), secret: body.slice(PREFIX.length + ID_LEN) };
}
