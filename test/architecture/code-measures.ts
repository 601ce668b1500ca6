// Measures of the source (core/, modules/, sdk/; tests excluded) that the type checker cannot
// enforce by itself, read from TypeScript's syntax tree: casts that switch checking off, non-null
// assertions, settings read with a cast, and the size of files and functions. Checked by
// test/architecture/code-measures.test.ts; `npx tsx test/architecture/code-measures.ts [dir]` prints them.
import { readFileSync } from "node:fs";
import { sourceFiles } from "./import-graph.js";
import { join, relative } from "node:path";
import ts from "typescript";

export interface CodeMeasures {
  asAny: string[];
  asUnknownAs: string[];
  nonNull: string[];
  configGetCasts: string[];
  /** Files over the line budget, and functions over theirs: "file:line (n lines)". */
  longFiles: string[];
  longFunctions: string[];
}

export const MAX_FILE_LINES = 400;
export const MAX_FUNCTION_LINES = 120;

export function measure(root: string): CodeMeasures {
  const m: CodeMeasures = { asAny: [], asUnknownAs: [], nonNull: [], configGetCasts: [], longFiles: [], longFunctions: [] };
  for (const file of sourceFiles(root)) {
    const text = readFileSync(join(root, file), "utf8");
    const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
    const at = (n: ts.Node) => `${relative(".", file)}:${sf.getLineAndCharacterOfPosition(n.getStart(sf)).line + 1}`;
    const lines = text.split("\n").length;
    if (lines > MAX_FILE_LINES) m.longFiles.push(`${file} (${lines} lines)`);
    const visit = (n: ts.Node): void => {
      if (ts.isAsExpression(n)) {
        if (n.type.kind === ts.SyntaxKind.AnyKeyword) m.asAny.push(at(n));
        if (ts.isAsExpression(n.expression) && n.expression.type.kind === ts.SyntaxKind.UnknownKeyword) m.asUnknownAs.push(at(n));
        const inner = ts.isParenthesizedExpression(n.expression) ? n.expression.expression : n.expression;
        const call = ts.isAwaitExpression(inner) ? inner.expression : inner;
        if (ts.isCallExpression(call) && /\bconfig\.get$/.test(call.expression.getText(sf))) m.configGetCasts.push(at(n));
      }
      if (ts.isNonNullExpression(n)) m.nonNull.push(at(n));
      if (ts.isFunctionLike(n) && "body" in n && n.body) {
        const start = sf.getLineAndCharacterOfPosition(n.getStart(sf)).line;
        const end = sf.getLineAndCharacterOfPosition(n.getEnd()).line;
        if (end - start + 1 > MAX_FUNCTION_LINES) m.longFunctions.push(`${at(n)} (${end - start + 1} lines)`);
      }
      ts.forEachChild(n, visit);
    };
    visit(sf);
  }
  return m;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const m = measure(process.argv[2] ?? process.cwd());
  for (const [k, v] of Object.entries(m)) console.log(`${k}: ${v.length}${v.length && v.length <= 40 ? `\n  ${v.join("\n  ")}` : ""}`);
}
