// The pattern rules live in the SDK (the REST surface checks a token's console scope with them too).
export { matchesAny, matchesPattern, patternWithin } from "../../sdk/patterns.js";
