// The error shape every surface uses: the CLI's --json output, REST bodies, the sandbox bridge.

export interface ErrorFields {
  /** A stable code from Warden's catalogue (see docs/manifest-reference.md#error-codes). */
  code: string;
  message: string;
  reason?: string;
  retry_after?: number;
  blocked_until?: string;
  locked_until?: string;
  details?: unknown;
}

export interface ErrorBody {
  error: ErrorFields;
}
