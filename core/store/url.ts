// Connection URLs carry passwords; anything shown (status, logs, errors, config list) shows them
// with the password replaced.

/** The URL with any password (and a `password=` query parameter) replaced by ***. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    for (const k of [...u.searchParams.keys()]) if (/pass|secret|token/i.test(k)) u.searchParams.set(k, "***");
    return u.toString();
  } catch {
    // Not a URL we can parse: show only its scheme, never the rest.
    const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1];
    return scheme ? `${scheme}://(unparsable URL hidden)` : "(unparsable URL hidden)";
  }
}

/** Replaces every URL with credentials inside a text (an error message from a driver). */
export function redactUrlsIn(text: string): string {
  return text.replace(/\b[a-z][a-z0-9+.-]*:\/\/[^\s'"]*@[^\s'"]*/gi, (u) => redactUrl(u));
}
