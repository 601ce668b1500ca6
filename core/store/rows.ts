// Module records as both backends store them: JSON text in columns, one mapping each way.
import type { ModuleRecord } from "./store.js";

/** A modules row, whatever the backend's type for `disabled` (SQLite 0/1, PostgreSQL boolean). */
export interface ModuleRow {
  id: string;
  disabled: boolean | number;
  grants: string | null;
  approved_hash: string | null;
  revoked: string;
  installed_path: string | null;
  files: string | null;
  staged: string | null;
  provenance: string | null;
  seal: string | null;
  updated_at: string;
}

export function moduleFromRow(row: ModuleRow): ModuleRecord {
  return {
    id: row.id,
    disabled: row.disabled === true || row.disabled === 1,
    grants: row.grants === null ? null : JSON.parse(row.grants),
    approvedHash: row.approved_hash,
    revoked: JSON.parse(row.revoked),
    installedPath: row.installed_path,
    files: row.files === null ? null : JSON.parse(row.files),
    staged: row.staged ? JSON.parse(row.staged) : null,
    provenance: row.provenance ? JSON.parse(row.provenance) : null,
    seal: row.seal ?? null,
    updatedAt: row.updated_at,
  };
}

/** The record's JSON columns, in the modules table's column order after id and disabled. */
export function moduleColumns(r: ModuleRecord): { grants: string | null; revoked: string; files: string | null; staged: string | null; provenance: string | null } {
  return {
    provenance: r.provenance ? JSON.stringify(r.provenance) : null,
    grants: r.grants === null ? null : JSON.stringify(r.grants),
    revoked: JSON.stringify(r.revoked),
    files: r.files === null ? null : JSON.stringify(r.files),
    staged: r.staged ? JSON.stringify(r.staged) : null,
  };
}
