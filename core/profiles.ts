// Security profiles: the settings `warden init --profile strict|dev` writes, and what
// `warden security profile` compares a host's settings with. A profile is only settings; each is
// enforced where it is read (signatures at install, two-person at the bus, TLS where REST
// listens, learn mode where it runs, the newcomer token where `warden serve --enable-api` makes it).
export const PROFILES = {
  standard: {},
  strict: {
    "modules.require_signature": true,
    "approvals.required": 2,
    "api.require_tls": true,
    "api.newcomer": false,
    "modules.allow_learn": false,
  },
  dev: {
    "modules.require_signature": false,
    "approvals.required": 1,
    "api.require_tls": false,
    "modules.allow_learn": true,
  },
} as const satisfies Record<string, Record<string, unknown>>;

export type ProfileName = keyof typeof PROFILES;

export function isProfile(name: string): name is ProfileName {
  return Object.hasOwn(PROFILES, name);
}

export interface Departure {
  key: string;
  expected: unknown;
  actual: unknown;
}

/** Where the settings (key -> value) depart from the profile's. */
export function departures(profile: ProfileName, values: ReadonlyMap<string, unknown>): Departure[] {
  return Object.entries(PROFILES[profile] as Record<string, unknown>)
    .filter(([key, expected]) => values.get(key) !== expected)
    .map(([key, expected]) => ({ key, expected, actual: values.get(key) ?? null }));
}
