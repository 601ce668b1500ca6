// Dependency resolution over validated manifests: host range, missing dependencies, unsatisfied
// ranges and cycles, each reported with the module ids involved; failure cascades to dependents
// only. Returns a topological activation order of the modules that can run.
import semver from "semver";
import { HostError } from "../base/errors.js";

export interface Node {
  id: string;
  version: string;
  host: string;
  dependencies: Record<string, string>;
}

export interface Resolution {
  order: string[];
  failures: Map<string, HostError>;
}

const satisfied = new Map<string, boolean>();
/** semver.satisfies, remembered: a thousand modules share a handful of ranges. */
function satisfies(version: string, range: string): boolean {
  const key = `${version}\0${range}`;
  let v = satisfied.get(key);
  if (v === undefined) {
    v = semver.satisfies(version, range, { includePrerelease: true });
    satisfied.set(key, v);
  }
  return v;
}

export function resolveDependencies(nodes: readonly Node[], hostVersion: string): Resolution {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const failures = new Map<string, HostError>();

  for (const n of nodes) {
    if (!satisfies(hostVersion, n.host)) {
      failures.set(
        n.id,
        new HostError("host_incompatible", `module '${n.id}' needs host ${n.host} but this host is ${hostVersion}`, {
          details: { module: n.id, host: n.host, hostVersion },
        }),
      );
      continue;
    }
    for (const [dep, range] of Object.entries(n.dependencies)) {
      const d = byId.get(dep);
      if (!d) {
        failures.set(
          n.id,
          new HostError("dependency_unresolved", `module '${n.id}' depends on '${dep}' (${range}), which is not installed`, {
            details: { module: n.id, dependency: dep, range },
          }),
        );
        break;
      }
      if (!satisfies(d.version, range)) {
        failures.set(
          n.id,
          new HostError("dependency_unresolved", `module '${n.id}' needs '${dep}' ${range} but ${dep} is ${d.version}`, {
            details: { module: n.id, dependency: dep, range, found: d.version },
          }),
        );
        break;
      }
    }
  }

  for (const cycle of findCycles(nodes, byId)) {
    const path = [...cycle, cycle[0]].join(" -> ");
    for (const id of cycle) {
      failures.set(id, new HostError("dependency_cycle", `dependency cycle: ${path}`, { details: { cycle } }));
    }
  }

  // Cascade: a module whose dependency failed fails too, naming that dependency.
  const order: string[] = [];
  const visited = new Set<string>();
  const visit = (id: string): boolean => {
    if (failures.has(id)) return false;
    if (visited.has(id)) return true;
    visited.add(id);
    for (const dep of Object.keys(depsOf(byId, id))) {
      if (!visit(dep)) {
        const cause = failures.get(dep);
        const why = cause ? `${cause.code}: ${cause.message}` : "it is not installed";
        failures.set(
          id,
          new HostError("dependency_unresolved", `module '${id}' cannot run because its dependency '${dep}' failed (${why})`, {
            details: { module: id, dependency: dep, cause: cause?.code ?? "module_not_found" },
          }),
        );
        return false;
      }
    }
    order.push(id);
    return true;
  };
  for (const n of [...nodes].sort((a, b) => a.id.localeCompare(b.id))) visit(n.id);
  return { order, failures };
}

/** Each strongly connected group of two or more modules (or one depending on itself). */
function findCycles(nodes: readonly Node[], byId: Map<string, Node>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];

  const strong = (id: string) => {
    idx.set(id, index);
    low.set(id, index);
    index++;
    stack.push(id);
    onStack.add(id);
    for (const dep of Object.keys(depsOf(byId, id))) {
      if (!byId.has(dep)) continue;
      if (!idx.has(dep)) {
        strong(dep);
        low.set(id, Math.min(low.get(id) ?? index, low.get(dep) ?? index));
      } else if (onStack.has(dep)) {
        low.set(id, Math.min(low.get(id) ?? index, idx.get(dep) ?? index));
      }
    }
    if (low.get(id) === idx.get(id)) {
      const group: string[] = [];
      let w: string | undefined;
      do {
        w = stack.pop();
        if (w === undefined) break;
        onStack.delete(w);
        group.push(w);
      } while (w !== id);
      const selfLoop = group.length === 1 && Object.prototype.hasOwnProperty.call(depsOf(byId, id), id);
      if (group.length > 1 || selfLoop) cycles.push(orderCycle(group, byId));
    }
  };
  for (const n of nodes) if (!idx.has(n.id)) strong(n.id);
  return cycles;
}

/** Put a cycle's members in dependency order, starting from the smallest id, for a readable path. */
function orderCycle(group: string[], byId: Map<string, Node>): string[] {
  const members = new Set(group);
  const start = [...group].sort()[0];
  if (start === undefined) return [];
  const path = [start];
  let cur = start;
  while (path.length < group.length) {
    const next = Object.keys(depsOf(byId, cur)).find((d) => members.has(d) && !path.includes(d));
    if (!next) break;
    path.push(next);
    cur = next;
  }
  return path;
}

/** A module's dependencies, or none for an id the graph does not hold. */
function depsOf(byId: Map<string, Node>, id: string): Record<string, string> {
  return byId.get(id)?.dependencies ?? {};
}
