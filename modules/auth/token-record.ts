// What the auth module keeps per token in its storage, and the storage it needs.
import type { JsonValue } from "../../sdk/context.js";
import type { Identity } from "../../sdk/system/services.js";

// Types, not interfaces: records are JSON (JsonValue) as storage keeps them.
export type TokenRecord = {
  id: string;
  name: string;
  scopes: string[];
  hash: string;
  created_at: string;
  expires_at: string | null;
  revoked_at: string | null;
  last_used_at: string | null;
  last_request_at: string | null;
  bootstrap: boolean;
  /** The operator it belongs to; null (or absent, before operators existed): a service account's token. */
  operator?: string | null;
  /** CIDRs it may be used from (`--bind`); absent or null: anywhere. */
  bind?: string[] | null;
  /** The previous secret during a rotation's grace period. */
  prev: { hash: string; until: string } | null;
};

export type Usage = {
  last_used_at: string | null;
  last_request_at: string | null;
};

/** A verified token, as the REST surface knows it (sdk/system/services.ts). */
export type { Identity };

/** The module's private storage (ctx.storage). */
export interface TokenStorage {
  get(key: string): Promise<unknown>;
  set(key: string, value: JsonValue): Promise<void>;
  delete(key: string): Promise<boolean>;
  list(prefix?: string, limit?: number): Promise<string[]>;
}
