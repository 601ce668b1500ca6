// The `log:access` host service: one line per REST request, written by the host straight to its
// log (see core/log/access.ts). Offered to system modules through ctx.services.host.

/** What one request's line says. */
export interface AccessEntry {
  request_id: string;
  method: string;
  route: string;
  url: string;
  status: number;
  ms: number;
  client: string | undefined;
  token_id: string | undefined;
}

export type AccessLog = (e: AccessEntry) => void;
