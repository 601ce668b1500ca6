// Connection URLs carry passwords; anything shown (status, logs, errors, config list) shows them
// with the credentials replaced (the rules live with the log redaction, core/log/redact.ts).
import { redactUrl, scrubString } from "../log/redact.js";

export { redactUrl };

/** Replaces every URL's credentials inside a text (an error message from a driver). */
export function redactUrlsIn(text: string): string {
  return scrubString(text);
}
