// Text taken from a request for logs and decisions, bounded.

/** The URL as the access log keeps it: at most 200 characters (the log scrubs credentials from it). */
export function loggedUrl(url: string): string {
  return url.length > 200 ? url.slice(0, 200) : url;
}

export function headerValue(h: string | string[] | undefined): string | undefined {
  return Array.isArray(h) ? h.join(",") : h;
}
